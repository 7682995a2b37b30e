"""`rokuon breach …`: breach reports (漏えい等報告, APPI art. 26)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

breach_app = typer.Typer(no_args_is_help=True,
                         help="Breach reports (漏えい等報告): incidents, affected persons, "
                              "deadlines, notices, the PPC form.")



def _run(action: str, fn: Any, incident_id: str | None = None) -> Any:
    """Run a service call in a unit of work; a refusal is audited and one line."""
    from rokuon.compliance.breach import BreachError

    rt = _runtime()
    try:
        with rt.db.session() as s:
            return fn(rt, s)
    except BreachError as exc:
        from rokuon.access import audit

        with rt.db.session() as s:
            audit.record(s, Principal.cli(), action, object_type="breach",
                         object_id=incident_id, outcome="failed", detail={"reason": str(exc)})
        fail(str(exc))


@breach_app.command("create")
def create(title: Annotated[str, typer.Option(help="What happened, in one line.")],
           description: Annotated[str, typer.Option(help="What happened, in detail.")],
           discovered_at: Annotated[str | None, typer.Option(
               help="When it was found (発覚日; default now).")] = None,
           occurred_from: Annotated[str | None, typer.Option(
               help="When it began (発生日).")] = None,
           occurred_to: Annotated[str | None, typer.Option(help="When it ended.")] = None,
           scope: Annotated[str | None, typer.Option(help="Suspected scope.")] = None,
           cause: Annotated[str | None, typer.Option(help="Cause, as far as known.")] = None,
           unauthorized_access: Annotated[bool, typer.Option(
               "--unauthorized-access", help="Unauthorised access / 不正の目的 "
                                             "(final report within 60 days).")] = False,
           data_item: Annotated[list[str] | None, typer.Option(
               "--data-item", help="Item of personal data concerned (repeat).")] = None,
           actor: Annotated[list[str] | None, typer.Option(
               "--actor", help="Only accesses by this account (repeat).")] = None,
           call: Annotated[list[str] | None, typer.Option(
               "--call", help="A call known to be affected (repeat).")] = None,
           window_from: Annotated[str | None, typer.Option(
               help="Accesses from (default: --occurred-from).")] = None,
           window_to: Annotated[str | None, typer.Option(
               help="Accesses until (default: --occurred-to, else discovery).")] = None,
           as_json: JsonOpt = False) -> None:
    """Open an incident; its affected calls are the content accesses in the window."""
    from rokuon.compliance import breach

    def go(rt: Any, s: Any) -> dict[str, Any]:
        tz = rt.settings.timezone
        inc = breach.create(
            s, Principal.cli(), title=title, description=description,
            discovered_at=breach.parse_time(discovered_at, "discovered-at", tz),
            occurred_from=breach.parse_time(occurred_from, "occurred-from", tz),
            occurred_to=breach.parse_time(occurred_to, "occurred-to", tz, end=True),
            scope=scope, cause=cause, unauthorized_access=unauthorized_access,
            data_items=data_item, actors=actor, call_ids=call,
            window_from=breach.parse_time(window_from, "window-from", tz),
            window_to=breach.parse_time(window_to, "window-to", tz, end=True))
        out = breach.doc(s, inc, tz)
        out["affected"] = breach.affected(s, Principal.cli(), inc.id)["counts"]
        return out

    out = _run("breach.create", go)
    if as_json:
        emit_json(out)
        return
    d = out["deadlines"]
    typer.echo(f"{out['incident_id']}: {out['affected']['calls']} call(s), "
               f"{out['affected']['persons']} person(s); 速報 due "
               f"{d['preliminary']['due_at'][:10]}, 確報 due {d['final']['due_at'][:10]}")


@breach_app.command("show")
def show(incident_id: str, as_json: JsonOpt = False) -> None:
    """The incident, its deadlines (overdue flags) and affected counts."""
    from rokuon.compliance import breach

    out = _run("breach.show", lambda rt, s: breach.show(s, Principal.cli(), incident_id,
                                                        rt.settings.timezone), incident_id)
    if as_json:
        emit_json(out)
        return
    for k in ("incident_id", "title", "status", "discovered_at", "occurred_from", "cause",
              "unauthorized_access"):
        typer.echo(f"{k}: {out[k]}")
    for stage, d in out["deadlines"].items():
        typer.echo(f"{stage}: due {d['due_at']}  reported {d['reported_at'] or '-'}"
                   f"{'  OVERDUE' if d['overdue'] else ''}")
    typer.echo(f"affected: {out['affected']['calls']} calls, "
               f"{out['affected']['persons']} persons, {out['affected']['notified']} notified")


@breach_app.command("list")
def list_(overdue: Annotated[bool, typer.Option(
              "--overdue", help="Only incidents with a missed deadline.")] = False,
          as_json: JsonOpt = False) -> None:
    """Incidents, newest first. Exit 2 when a report deadline has passed (for cron)."""
    from rokuon.compliance import breach

    rows = _run("breach.list", lambda rt, s: breach.list_incidents(
        s, Principal.cli(), rt.settings.timezone, overdue_only=overdue))
    if as_json:
        emit_json({"incidents": rows})
    else:
        for r in rows:
            typer.echo(f"{r['incident_id']}  {r['discovered_at'][:10]}  {r['status']:<20} "
                       f"{'OVERDUE ' if r['overdue'] else ''}{r['title']}")
        typer.echo(f"{len(rows)} incident(s)")
    if any(r["overdue"] for r in rows):
        raise typer.Exit(2)


@breach_app.command("update")
def update(incident_id: str,
           cause: Annotated[str | None, typer.Option()] = None,
           scope: Annotated[str | None, typer.Option()] = None,
           secondary_damage: Annotated[str | None, typer.Option(help="二次被害")] = None,
           prevention: Annotated[str | None, typer.Option(help="再発防止策")] = None,
           response_to_persons: Annotated[str | None, typer.Option(
               help="本人への対応")] = None,
           reported: Annotated[str | None, typer.Option(
               help="A report sent to the PPC: preliminary | final.")] = None,
           reported_at: Annotated[str | None, typer.Option(help="When (default now).")] = None,
           close: Annotated[bool, typer.Option("--close")] = False,
           as_json: JsonOpt = False) -> None:
    """Fill in the report's fields; record the 速報/確報 sent; close."""
    from rokuon.compliance import breach

    def go(rt: Any, s: Any) -> dict[str, Any]:
        tz = rt.settings.timezone
        inc = breach.update(s, Principal.cli(), incident_id, reported=reported,
                            reported_at=breach.parse_time(reported_at, "reported-at", tz),
                            close=close, cause=cause, scope=scope,
                            secondary_damage=secondary_damage, prevention=prevention,
                            response_to_persons=response_to_persons)
        return breach.doc(s, inc, tz)

    out = _run("breach.update", go, incident_id)
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"{incident_id}: {out['status']}")


@breach_app.command("affected")
def affected(incident_id: str, as_json: JsonOpt = False) -> None:
    """The affected calls (who accessed them, when) and persons (customer numbers)."""
    from rokuon.compliance import breach

    out = _run("breach.affected",
               lambda rt, s: breach.affected(s, Principal.cli(), incident_id), incident_id)
    if as_json:
        emit_json(out)
        return
    for c in out["calls"]:
        typer.echo(f"{c['call_id']}  {c['accesses']}x  {','.join(c['actors']) or '(named)'}  "
                   f"{c['person'] or '-'}")
    n = out["counts"]
    typer.echo(f"{n['calls']} calls, {n['persons']} persons, {n['notified']} notified")


@breach_app.command("notify")
def notify(incident_id: str,
           method: Annotated[str, typer.Option(help="letter | email | phone | sms | "
                                                    "in_person | public_notice")],
           person: Annotated[list[str] | None, typer.Option(
               "--person", help="The customer number notified (repeat).")] = None,
           all_: Annotated[bool, typer.Option("--all", help="Every affected person not "
                                                            "yet notified.")] = False,
           note: Annotated[str | None, typer.Option()] = None,
           as_json: JsonOpt = False) -> None:
    """Record notices to affected persons (本人への通知)."""
    from rokuon.compliance import breach

    def go(rt: Any, s: Any) -> dict[str, Any]:
        ns = breach.notify(s, Principal.cli(), incident_id, persons=person or [],
                           all_persons=all_, method=method, note=note)
        return {"incident_id": incident_id, "notified": [n.person for n in ns],
                "method": method}

    out = _run("breach.notify", go, incident_id)
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"{len(out['notified'])} notice(s) recorded")


@breach_app.command("export")
def export(incident_id: str,
           fmt: Annotated[str, typer.Option("--format", help="json | csv")] = "json",
           out: Annotated[Path | None, typer.Option(help="Write here (default stdout).")
                          ] = None) -> None:
    """The PPC report form's fields (漏えい等報告書): counts, no personal data."""
    from rokuon.compliance import breach

    if fmt not in ("json", "csv"):
        fail(f"--format must be json or csv; got {fmt!r}")
    rep = _run("breach.export", lambda rt, s: breach.export(s, Principal.cli(), incident_id,
                                                            rt.settings.timezone), incident_id)
    text = (json.dumps(rep, ensure_ascii=False, indent=1) + "\n" if fmt == "json"
            else breach.export_csv(rep))
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror or exc})")
    typer.echo(f"{out}: {rep['counts']['persons']} person(s), {rep['counts']['calls']} call(s)")
