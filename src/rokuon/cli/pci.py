"""`rokuon pci …`: the archive-wide card-data leak scan and the PCI quarantine."""

from __future__ import annotations

from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import emit_json, fail

pci_app = typer.Typer(no_args_is_help=True,
                      help="Card data (PCI): leak scan of the archive, quarantined calls.")


@pci_app.command("scan")
def scan(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Scan every stored transcript and index row for card data with the independent
    leak check. Exit 0: no leak; 2: leaks found (listed by call, line and kind — never
    the value)."""
    from rokuon.compliance import pci_scan

    rt = _runtime()
    with rt.db.session() as s:
        res = pci_scan.scan(s, Principal.cli(), rt.analysis_config)
    if as_json:
        emit_json(res)
    else:
        for lk in res["leaks"]:
            typer.echo(f"LEAK {lk['call_id']} v{lk['version']} line {lk['segment']} "
                       f"{lk['field']}: {lk['kind']}")
        typer.echo(f"{res['scanned']} rows scanned, {len(res['leaks'])} leaks")
    if res["leaks"]:
        raise typer.Exit(2)


@pci_app.command("quarantine")
def quarantine(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False
               ) -> None:
    """Calls held out of search and playback because card-data masking failed or was
    unsure."""
    from rokuon.compliance import pci_scan

    rt = _runtime()
    with rt.db.session() as s:
        rows = pci_scan.quarantined(s)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['call_id']}  {r['quarantined_at']}  {r['reason']}")
    typer.echo(f"{len(rows)} quarantined")


@pci_app.command("release")
def release(call_id: Annotated[str, typer.Argument(help="The reviewed call.")],
            reason: Annotated[str, typer.Option(help="What was checked.")]) -> None:
    """Put a reviewed call back into search and playback (audited)."""
    from rokuon.compliance import pci_scan

    rt = _runtime()
    try:
        with rt.db.session() as s:
            pci_scan.release(s, Principal.cli(), call_id, reason)
    except pci_scan.QuarantineError as exc:
        fail(str(exc))
    typer.echo(f"{call_id} released")
