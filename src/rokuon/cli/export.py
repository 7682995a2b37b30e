"""`rokuon export calls …`: one row per call as CSV or JSON Lines (the CLI runs as the
local admin: every call). The file appears only when it is complete."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import fail, option_date

export_app = typer.Typer(no_args_is_help=True,
                         help="Export calls (CSV for Excel, or JSON Lines).")


@export_app.command("calls")
def export_calls(
        out: Annotated[Path, typer.Option("--out", help="The file to write.")],
        fmt: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
        since: Annotated[str | None, typer.Option(
            "--since", help="First day, YYYY-MM-DD in the installation's time zone.")] = None,
        until: Annotated[str | None, typer.Option(
            "--until", help="Last day, inclusive.")] = None) -> None:
    """call_id, started_at, duration_s, agent, team, queue, direction, qa_score,
    complaint, churn, sentiment, summary and the masked customer number of each call
    (docs/export.md)."""
    from rokuon.calls import export

    try:
        f = export.check(fmt, option_date("since", since), option_date("until", until))
    except export.ExportError as exc:
        fail(str(exc))
    if out.is_dir():
        fail(f"--out: {out} is a folder")
    if not out.parent.exists():
        fail(f"--out: the folder {out.parent} does not exist")
    rt = _runtime()
    part = out.with_name(out.name + ".part")
    principal = Principal.cli()
    n = 0
    try:
        with rt.db.session() as s:
            export.audit(s, principal, f, fmt)
            s.commit()
            with part.open("w", encoding="utf-8", newline="") as fh:
                for chunk in export.encode(
                        export.rows(s, principal, f, rt.settings.timezone), fmt):
                    fh.write(chunk)
                    n += 1
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    rows = n - 1 if fmt == "csv" else n
    typer.echo(f"{rows} calls → {out}", err=True)
