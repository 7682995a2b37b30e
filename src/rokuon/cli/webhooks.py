"""`rokuon webhooks …`: outbound webhooks (Standard Webhooks) and Slack notifications."""

from __future__ import annotations

from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

webhooks_app = typer.Typer(
    no_args_is_help=True,
    help="Outbound webhooks (Standard Webhooks) and Slack: endpoints, the delivery log, "
         "dead letters (docs/integrations.md).")


@webhooks_app.command("add")
def add(url: Annotated[str, typer.Argument(help="The receiver's https:// URL (or a Slack "
                                                "incoming-webhook URL with --kind slack).")],
        events: Annotated[list[str], typer.Option(
            "--events", help="An event to send: alert.raised, call.analyzed, call.started, "
                             "call.ended (repeat the option for several).")],
        secret: Annotated[str | None, typer.Option(
            help="The signing secret, whsec_<base64> (omitted: one is made and "
                 "printed).")] = None,
        kind: Annotated[str, typer.Option(help="standard | slack")] = "standard",
        as_json: JsonOpt = False) -> None:
    """Add an endpoint; every matching event is delivered to it from now on."""
    from rokuon.integrations import webhooks

    rt = _runtime()
    made = None
    if kind == "standard" and not secret:
        made = secret = webhooks.new_secret()
    actor = Principal.cli()
    try:
        with rt.db.session() as s:
            ep = webhooks.add_endpoint(s, rt.keys, url, events, secret=secret, kind=kind,
                                       allow_private=rt.settings.webhook_allow_private,
                                       created_by=actor.name)
            from rokuon.access import audit

            audit.record(s, actor, "webhook.add", object_type="webhook", object_id=ep.id,
                         detail={"url": webhooks.redacted_url(ep.url), "kind": ep.kind,
                                 "events": ep.events})
            webhook_id, names = ep.id, list(ep.events)
    except webhooks.WebhookError as exc:
        fail(str(exc))
    doc: dict[str, object] = {"webhook_id": webhook_id}
    if made:
        doc["secret"] = made
    if as_json:
        emit_json(doc)
        return
    typer.echo(f"webhook {webhook_id} added ({kind}: {', '.join(names)})")
    if made:
        typer.echo(f"signing secret (shown once): {made}")


@webhooks_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The endpoints (secrets are never shown)."""
    from rokuon.integrations import webhooks

    rt = _runtime()
    with rt.db.session() as s:
        rows = [webhooks.endpoint_dict(e) for e in webhooks.list_endpoints(s)]
    if as_json:
        emit_json({"webhooks": rows})
        return
    for r in rows:
        typer.echo(f"{r['webhook_id']}  {r['kind']:8}  {'on ' if r['enabled'] else 'off'}  "
                   f"{r['url']}  {', '.join(r['events'])}")
    if not rows:
        typer.echo("no webhooks (rokuon webhooks add URL --events … --secret whsec_…)")


@webhooks_app.command("remove")
def remove(webhook_id: Annotated[str, typer.Argument(help="The webhook id.")]) -> None:
    """Remove an endpoint and its delivery log."""
    from rokuon.access import audit
    from rokuon.integrations import webhooks

    rt = _runtime()
    with rt.db.session() as s:
        if not webhooks.remove_endpoint(s, webhook_id):
            fail(f"no webhook {webhook_id} (rokuon webhooks list)")
        audit.record(s, Principal.cli(), "webhook.remove", object_type="webhook",
                     object_id=webhook_id)
    typer.echo(f"webhook {webhook_id} removed")


@webhooks_app.command("deliveries")
def deliveries(status: Annotated[str | None, typer.Option(
                   help="pending | delivered | dead (dead = the dead-letter list).")] = None,
               webhook_id: Annotated[str | None, typer.Option(
                   "--webhook", help="Only this endpoint's.")] = None,
               limit: Annotated[int, typer.Option(help="At most this many, newest "
                                                       "first.")] = 100,
               as_json: JsonOpt = False) -> None:
    """The delivery log: every event sent or to send, its attempts and last error."""
    from rokuon.integrations import webhooks

    rt = _runtime()
    try:
        with rt.db.session() as s:
            rows = [webhooks.delivery_dict(d) for d in webhooks.list_deliveries(
                s, status=status, endpoint_id=webhook_id, limit=limit)]
    except webhooks.WebhookError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"deliveries": rows})
        return
    for r in rows:
        typer.echo(f"{r['delivery_id']:>6}  {r['status']:9}  {r['type']:14}  "
                   f"{r['webhook_id']}  attempts {r['attempts']}  "
                   f"{r['last_error'] or ''}")
    if not rows:
        typer.echo("no deliveries")


@webhooks_app.command("retry")
def retry(delivery_id: Annotated[int, typer.Argument(help="The delivery id.")]) -> None:
    """Send a dead delivery again (a fresh series of attempts), by the running server or
    'rokuon webhooks run'."""
    from rokuon.access import audit
    from rokuon.integrations import webhooks

    rt = _runtime()
    try:
        with rt.db.session() as s:
            webhooks.retry_delivery(s, delivery_id)
            audit.record(s, Principal.cli(), "webhook.retry", object_type="delivery",
                         object_id=str(delivery_id))
    except webhooks.WebhookError as exc:
        fail(str(exc))
    typer.echo(f"delivery {delivery_id} queued again")


@webhooks_app.command("test")
def test(webhook_id: Annotated[str, typer.Argument(help="The webhook id.")],
         as_json: JsonOpt = False) -> None:
    """Send a webhook.test ping now and say what the receiver answered (exit 1 if it
    failed; nothing is stored)."""
    from rokuon.integrations import delivery, webhooks

    rt = _runtime()
    try:
        out = delivery.send_test(rt, webhook_id)
    except webhooks.WebhookError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"webhook_id": webhook_id, "ok": out.ok, "response_code": out.code,
                   "error": out.error})
    if not out.ok:
        if not as_json:
            fail(f"webhook {webhook_id}: test delivery failed: {out.error}")
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"webhook {webhook_id}: delivered (HTTP {out.code})")


@webhooks_app.command("run")
def run(once: Annotated[bool, typer.Option(
            "--once", help="Deliver what is due now and exit.")] = False) -> None:
    """Deliver the outbox from this process (the server does this itself; use this when
    no server runs, e.g. after 'rokuon ingest --wait')."""
    import time

    from rokuon.integrations.delivery import DeliveryWorker

    rt = _runtime()
    worker = DeliveryWorker(rt).start(loop=not once)
    try:
        if once:
            worker.drain()
        else:
            typer.echo("delivering webhooks; Ctrl-C stops")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
