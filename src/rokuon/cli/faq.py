"""`rokuon faq …`: the FAQ knowledge base that live calls suggest answers from
(docs/assist.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

faq_app = typer.Typer(
    no_args_is_help=True,
    help="The FAQ knowledge base: import CSV/Markdown, list, try suggestions "
         "(docs/assist.md).")


@faq_app.command("import")
def import_(file: Annotated[Path | None, typer.Argument(
                help="A .csv (question,answer[,tags][,language]) or .md (## question, "
                     "then the answer) file.")] = None,
            defaults: Annotated[bool, typer.Option(
                "--defaults", help="Import the Japanese FAQ shipped with rokuon "
                                   "instead of a file.")] = False,
            replace: Annotated[bool, typer.Option(
                "--replace", help="Delete the entries that are not in the file.")] = False,
            as_json: JsonOpt = False) -> None:
    """Add a file's entries; an entry with the same question gets the file's answer.
    A bad file is refused whole (the message names the line)."""
    from rokuon.assist import knowledge, service

    if (file is None) == (not defaults):
        fail("give one FAQ file, or --defaults")
    path = file if file is not None else knowledge.default_file()
    try:
        items = knowledge.parse_file(path)
    except knowledge.FaqFormatError as exc:
        fail(str(exc))
    rt = _runtime()
    try:
        with rt.db.session() as s:
            counts = service.import_items(s, Principal.cli(), items, source=path.name,
                                          replace=replace)
    except service.FaqError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"file": path.name, **counts})
        return
    typer.echo(f"{path.name}: {counts['added']} added, {counts['updated']} updated, "
               f"{counts['removed']} removed; {counts['entries']} entries")


@faq_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every entry (inactive ones too)."""
    from rokuon.assist import service

    rt = _runtime()
    with rt.db.session() as s:
        rows = [service.entry_dict(e) for e in service.list_entries(s)]
    if as_json:
        emit_json({"entries": rows})
        return
    for r in rows:
        typer.echo(f"{r['entry_id']:>5}  {'on ' if r['active'] else 'off'}  {r['language']}  "
                   f"{r['question']}")
    if not rows:
        typer.echo("no FAQ entries (rokuon faq import FILE, or --defaults)")


@faq_app.command("suggest")
def suggest(text: Annotated[str, typer.Argument(help="What the customer said.")],
            as_json: JsonOpt = False) -> None:
    """The answers a live call would show for this utterance (at most 3; none for
    fillers or talk no entry is about)."""
    from rokuon.assist.suggest import shared_suggester

    rt = _runtime()
    with rt.db.session() as s:
        found = shared_suggester(rt.settings).suggest(s, text)
    if as_json:
        emit_json({"text": text, "suggestions": found})
        return
    for f in found:
        typer.echo(f"{f['score']:.2f}  #{f['entry_id']}  {f['question']}\n      {f['answer']}")
    if not found:
        typer.echo("no suggestion")
