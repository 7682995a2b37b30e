"""`rokuon compliance …`: the security checklist report and attestations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import emit_json, fail

compliance_app = typer.Typer(no_args_is_help=True,
                             help="Security checklist report (APPI safeguards).")


@compliance_app.command("report")
def report(fmt: Annotated[str, typer.Option("--format", help="json | html | pdf")] = "json",
           out: Annotated[Path | None, typer.Option(help="Write here (default: stdout for "
                                                         "json/html).")] = None,
           lang: Annotated[str, typer.Option(help="ja | en (html)")] = "ja") -> None:
    """The four categories of safeguards; technical items proven from this system."""
    from rokuon.compliance import checklist

    if fmt not in ("json", "html", "pdf"):
        fail(f"--format must be json, html or pdf; got {fmt!r}")
    if fmt == "pdf" and out is None:
        fail("--format pdf needs --out FILE")
    rt = _runtime()
    rep = checklist.build(rt, Principal.cli())
    if fmt == "json":
        data = json.dumps(rep, ensure_ascii=False, indent=1).encode("utf-8")
    elif fmt == "html":
        data = checklist.to_html(rep, lang).encode("utf-8")
    else:
        data = checklist.to_pdf(rep)
    if out is None:
        if fmt == "json":
            emit_json(rep)
        else:
            typer.echo(data.decode("utf-8"))
        return
    out.write_bytes(data)
    s = rep["summary"]
    typer.echo(f"{out}: {s['ok']} ok, {s['failed']} failed, {s['open']} not attested")


@compliance_app.command("attest")
def attest(item: Annotated[str, typer.Argument(help="Checklist item id (see the report).")],
           note: Annotated[str, typer.Option(help="What was done, when, by whom.")]) -> None:
    """Record that an organisational / human / physical measure is in place."""
    from rokuon.compliance import checklist

    rt = _runtime()
    try:
        with rt.db.session() as s:
            checklist.attest(s, Principal.cli(), item, note)
    except checklist.ChecklistError as exc:
        fail(str(exc))
    typer.echo(f"{item}: attested")
