"""`rokuon crm …` (CRM activity deliveries) and `rokuon sms …` (after-call SMS)."""

from __future__ import annotations

from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

crm_app = typer.Typer(
    no_args_is_help=True,
    help="CRM/SFA activities (Salesforce, HubSpot, kintone): the delivery log, dead "
         "letters, sending now (docs/integrations.md).")
sms_app = typer.Typer(no_args_is_help=True,
                      help="After-call SMS: send, the message log, the opt-out list "
                           "(docs/integrations.md).")


@crm_app.command("targets")
def targets(as_json: JsonOpt = False) -> None:
    """The targets in crm.yaml (checked: a wrong key or placeholder is named)."""
    from rokuon.integrations.crm import config
    from rokuon.integrations.crm.errors import CrmConfigError

    rt = _runtime()
    try:
        ts = config.load(config.targets_path(rt.settings))
    except CrmConfigError as exc:
        fail(str(exc))
    rows = [{"name": t.name, "kind": t.kind, "base_url": t.base_url,
             "fields": sorted(t.fields), "key_field": t.key_field} for t in ts]
    if as_json:
        emit_json({"targets": rows})
        return
    for r in rows:
        typer.echo(f"{r['name']:20} {r['kind']:10} {r['base_url']}  fields: "
                   f"{', '.join(r['fields']) or '-'}")
    if not rows:
        typer.echo("no CRM targets (crm.yaml)")


@crm_app.command("deliveries")
def deliveries(status: Annotated[str | None, typer.Option(
                   help="pending | delivered | dead (dead = the dead-letter list).")] = None,
               target: Annotated[str | None, typer.Option(help="Only this target's.")] = None,
               limit: Annotated[int, typer.Option(help="At most this many, newest "
                                                       "first.")] = 100,
               as_json: JsonOpt = False) -> None:
    """The delivery log: every call's activity per CRM, its attempts and last error."""
    from rokuon.integrations.crm import outbox
    from rokuon.integrations.crm.errors import CrmConfigError

    rt = _runtime()
    try:
        with rt.db.session() as s:
            rows = [outbox.delivery_dict(d) for d in outbox.list_deliveries(
                s, status=status, target=target, limit=limit)]
    except CrmConfigError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"deliveries": rows})
        return
    for r in rows:
        typer.echo(f"{r['delivery_id']:>6}  {r['status']:9}  {r['target']:12}  "
                   f"{r['call_id']}  attempts {r['attempts']}  {r['last_error'] or ''}")
    if not rows:
        typer.echo("no deliveries")


@crm_app.command("retry")
def retry(delivery_id: Annotated[int, typer.Argument(help="The delivery id.")]) -> None:
    """Send a delivery again (a fresh series of attempts; the CRM updates the activity
    it already has for the call)."""
    from rokuon.access import audit
    from rokuon.integrations.crm import outbox
    from rokuon.integrations.crm.errors import CrmConfigError

    rt = _runtime()
    try:
        with rt.db.session() as s:
            outbox.retry(s, delivery_id)
            audit.record(s, Principal.cli(), "crm.retry", object_type="crm_delivery",
                         object_id=str(delivery_id))
    except CrmConfigError as exc:
        fail(str(exc))
    typer.echo(f"delivery {delivery_id} queued again")


@crm_app.command("run")
def run(as_json: JsonOpt = False) -> None:
    """Send every due CRM delivery and queued SMS now, then exit (the server does this
    in the background)."""
    from rokuon.integrations import sms
    from rokuon.integrations.crm import outbox

    rt = _runtime()
    n, m = outbox.deliver_due(rt, limit=1000), sms.deliver_queued(rt, limit=1000)
    if as_json:
        emit_json({"crm_attempts": n, "sms_sent": m})
        return
    typer.echo(f"{n} CRM attempt(s), {m} SMS")


@sms_app.command("send")
def send(call_id: Annotated[str, typer.Argument(help="The call id.")],
         as_json: JsonOpt = False) -> None:
    """Send the follow-up SMS of a call now (refused, and exit 1, when the customer
    objected, opted out or has no phone number)."""
    from rokuon.access import audit
    from rokuon.integrations import sms
    from rokuon.store.models import Call

    rt = _runtime()
    with rt.db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            fail(f"no call {call_id}")
        m = sms.prepare(s, rt.settings, call, trigger="agent", actor="cli")
        audit.record(s, Principal.cli(), "sms.queue", object_type="call", object_id=call_id,
                     outcome="ok" if m.status == "queued" else "denied",
                     detail={"message_id": m.id, "error": m.error})
        mid, status, error = m.id, m.status, m.error
    if status == "queued":
        sent = sms.deliver(rt, mid)
        status, error = sent.status, sent.error
    if as_json:
        emit_json({"message_id": mid, "status": status, "error": error})
    else:
        typer.echo(f"message {mid}: {status}" + (f" ({error})" if error else ""))
    if error:
        raise typer.Exit(1)


@sms_app.command("opt-out")
def opt_out(number: Annotated[str, typer.Argument(help="The phone number.")],
            remove: Annotated[bool, typer.Option("--remove", help="Opt back in.")] = False
            ) -> None:
    """Add a number to the opt-out list (or take it off with --remove)."""
    from rokuon.access import audit
    from rokuon.integrations import sms

    rt = _runtime()
    try:
        e164 = sms.normalise(number, rt.settings.sms_country_code)
    except sms.SmsError as exc:
        fail(str(exc))
    with rt.db.session() as s:
        changed = sms.set_opt_out(s, e164, source="admin", on=not remove)
        audit.record(s, Principal.cli(), "sms.opt_in" if remove else "sms.opt_out",
                     object_type="phone", object_id=e164[:-4] + "****",
                     detail={"changed": changed})
    typer.echo(f"{e164[:-4]}**** {'opted in' if remove else 'opted out'}"
               + ("" if changed else " (already)"))
