"""`rokuon cdr …`: import call detail records and reconcile them with the recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail, option_date

cdr_app = typer.Typer(no_args_is_help=True,
                      help="Call detail records: import, and reconcile with the recordings "
                           "(no call lost).")



@cdr_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="The CDR file.")],
            fmt: Annotated[str, typer.Option("--format", help="asterisk | freeswitch | "
                                                              "twilio-csv | twilio-json")],
            tz: Annotated[str | None, typer.Option(
                "--tz", help="Time zone of times without an offset (default: the "
                             "installation's).")] = None,
            encoding: Annotated[str, typer.Option(help="Text encoding of the file "
                                                       "(utf-8, cp932, euc-jp …).")] = "utf-8",
            allow_unknown: Annotated[bool, typer.Option(
                "--allow-unknown-columns", help="Ignore columns/keys not known for the "
                                                "format instead of refusing the file.")] = False,
            as_json: JsonOpt = False) -> None:
    """Store the file's records (all or nothing; the same record again is unchanged)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from rokuon.cdr import service
    from rokuon.cdr.formats import FORMATS

    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot read ({exc.strerror or exc})")
    rt = _runtime()
    zone = tz or rt.settings.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz: unknown time zone {zone!r} (e.g. Asia/Tokyo, UTC)")
    actor = Principal.cli()
    try:
        with rt.db.session() as s:
            res = service.import_file(s, actor, data, name=file.name, fmt=fmt, tz=zone,
                                      encoding=encoding, allow_unknown=allow_unknown)
    except service.CdrError as exc:
        with rt.db.session() as s:
            service.audit_failure(s, actor, "cdr.import", str(exc), file=file.name, format=fmt)
        fail(str(exc))
    if as_json:
        emit_json(res)
        return
    typer.echo(f"{file.name}: {res['inserted']} new, {res['updated']} updated, "
               f"{res['unchanged']} unchanged, {len(res['skipped'])} skipped")
    for sk in res["skipped"]:
        typer.echo(f"  row {sk['row']}: {sk['reason']}")


@cdr_app.command("reconcile")
def reconcile(since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD; "
                                                              "default: the first CDR).")] = None,
              until: Annotated[str | None, typer.Option(help="To this day (YYYY-MM-DD; "
                                                             "default: the last CDR).")] = None,
              tolerance_s: Annotated[float, typer.Option(
                  "--tolerance-s", help="Start times may differ by this much.")] = 120.0,
              min_billsec: Annotated[int, typer.Option(
                  help="Ignore answered calls shorter than this (IVR-only calls).")] = 0,
              as_json: JsonOpt = False) -> None:
    """Every answered call without a recording and every recording without a CDR.
    Exit 0: everything matched; 2: something is missing."""
    from rokuon.cdr import service

    d_since, d_until = option_date("since", since), option_date("until", until)
    if tolerance_s < 0 or min_billsec < 0:
        fail("--tolerance-s and --min-billsec must not be negative")
    rt = _runtime()
    actor = Principal.cli()
    try:
        with rt.db.session() as s:
            rep = service.reconcile(s, actor, tz=rt.settings.timezone, since=d_since,
                                    until=d_until, tolerance_s=tolerance_s,
                                    min_billsec=min_billsec)
    except service.CdrError as exc:
        with rt.db.session() as s:
            service.audit_failure(s, actor, "cdr.reconcile", str(exc))
        fail(str(exc))
    if as_json:
        emit_json(rep)
    else:
        _print_report(rep)
    if rep["missing_recordings"] or rep["recordings_without_cdr"]:
        raise typer.Exit(2)


def _print_report(rep: dict[str, Any]) -> None:
    p = rep["period"]
    typer.echo(f"{p['since']} .. {p['until']}: {rep['cdrs']} CDRs, {rep['recordings']} "
               f"recordings, {rep['matched']} matched")
    for m in rep["missing_recordings"]:
        typer.echo(f"NO RECORDING  {m['started_at']}  {m['source']} {m['unique_id']}  "
                   f"{m['src'] or '-'} -> {m['dst'] or '-'}  {m['billsec']}s  "
                   f"{m['channel'] or m['queue'] or ''}")
    for w in rep["recordings_without_cdr"]:
        typer.echo(f"NO CDR        {w['started_at'] or w['imported_at']}  {w['call_id']}  "
                   f"{w['duration_s']}s  ({w['why']})")
    typer.echo(f"{len(rep['missing_recordings'])} answered call(s) without a recording, "
               f"{len(rep['recordings_without_cdr'])} recording(s) without a CDR")


@cdr_app.command("list")
def list_(since: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
          until: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
          disposition: Annotated[str | None, typer.Option(
              help="ANSWERED, NO ANSWER, BUSY or FAILED")] = None,
          as_json: JsonOpt = False) -> None:
    """Imported CDRs."""
    from rokuon.cdr import service
    from rokuon.cdr.formats import DISPOSITIONS

    d_since, d_until = option_date("since", since), option_date("until", until)
    if disposition and disposition.upper() not in DISPOSITIONS:
        fail(f"--disposition must be one of {', '.join(DISPOSITIONS)}; got {disposition!r}")
    rt = _runtime()
    with rt.db.session() as s:
        rows = service.list_cdrs(s, Principal.cli(), tz=rt.settings.timezone, since=d_since,
                                 until=d_until, disposition=disposition)
    if as_json:
        emit_json({"cdrs": rows})
        return
    for r in rows:
        typer.echo(f"{r['started_at']}  {r['disposition']:<9}  {r['billsec']:>5}s  "
                   f"{r['src'] or '-'} -> {r['dst'] or '-'}  {r['source']} {r['unique_id']}")
    typer.echo(f"{len(rows)} CDRs")


@cdr_app.command("runs")
def runs(as_json: JsonOpt = False) -> None:
    """Past reconciliations (by hand and the daily run in `rokuon serve`)."""
    from rokuon.cdr import service

    rt = _runtime()
    with rt.db.session() as s:
        rows = service.runs(s, Principal.cli(), tz=rt.settings.timezone)
    if as_json:
        emit_json({"runs": rows})
        return
    for r in rows:
        typer.echo(f"#{r['run_id']} {r['ran_at']} by {r['ran_by']}: {r['since']} .. "
                   f"{r['until']}: {r['matched']} matched, {r['missing_recordings']} "
                   f"without recording, {r['recordings_without_cdr']} without CDR")
