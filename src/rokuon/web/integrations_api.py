"""Webhooks and alerts over HTTP. Thin: parse, call rokuon.integrations, audit, return.

- ``GET /api/webhooks``, ``POST /api/webhooks`` (``{"url", "events": […], "secret",
  "kind"}`` → 201 ``{"webhook_id"}``), ``DELETE /api/webhooks/{webhook_id}``,
  ``GET /api/webhooks/deliveries?status=dead`` — administrators only (the ``admin``
  permission; token scope ``audit:read`` to read, ``calls:write`` to change)
- ``GET /api/alerts?call_id=&unacknowledged=`` and ``POST /api/alerts/{alert_id}/ack``
  — the ``read`` permission, limited to the calls the user may read (the door's scope);
  token scope ``calls:read``"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.integrations import alerts as alert_store
from rokuon.integrations import webhooks
from rokuon.runtime import Runtime
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    read_auth,
    require_action,
    require_scope,
    runtime,
)

router = APIRouter()


def admin_auth(auth: Auth = Depends(api_auth)) -> Auth:
    """Checked before the request body is read: a role without ``admin`` gets 403."""
    require_action(auth, "admin")
    return auth


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=10)
    secret: str | None = Field(default=None, max_length=200)
    kind: str = "standard"


@router.get("/api/webhooks")
def list_webhooks(auth: Auth = Depends(admin_auth), s: Session = Depends(db_session)
                  ) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    eps = webhooks.list_endpoints(s)
    audit.record(s, auth.principal, "webhook.list", detail={"count": len(eps)})
    return {"webhooks": [webhooks.endpoint_dict(e) for e in eps]}


@router.post("/api/webhooks", status_code=201)
def add_webhook(request: Request, body: WebhookIn, auth: Auth = Depends(admin_auth),
                s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                ) -> dict[str, Any]:
    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        ep = webhooks.add_endpoint(s, rt.keys, body.url, body.events, secret=body.secret,
                                   kind=body.kind,
                                   allow_private=rt.settings.webhook_allow_private,
                                   created_by=auth.principal.name)
    except webhooks.WebhookError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    audit.record(s, auth.principal, "webhook.add", object_type="webhook", object_id=ep.id,
                 detail={"url": webhooks.redacted_url(ep.url), "kind": ep.kind,
                         "events": ep.events})
    return {"webhook_id": ep.id}


@router.delete("/api/webhooks/{webhook_id}")
def remove_webhook(request: Request, webhook_id: str, auth: Auth = Depends(admin_auth),
                   s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    if not webhooks.remove_endpoint(s, webhook_id[:32]):
        raise HTTPException(status_code=404, detail=f"no webhook {webhook_id[:32]}")
    audit.record(s, auth.principal, "webhook.remove", object_type="webhook",
                 object_id=webhook_id)
    return {"removed": webhook_id}


@router.get("/api/webhooks/deliveries")
def deliveries(status: str | None = Query(None, max_length=10),
               webhook_id: str | None = Query(None, max_length=32),
               limit: int = Query(100, ge=1, le=1000), auth: Auth = Depends(admin_auth),
               s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    try:
        rows = webhooks.list_deliveries(s, status=status, endpoint_id=webhook_id,
                                        limit=limit)
    except webhooks.WebhookError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    audit.record(s, auth.principal, "webhook.deliveries",
                 detail={"status": status, "count": len(rows)})
    return {"deliveries": [webhooks.delivery_dict(d) for d in rows]}


@router.get("/api/alerts")
def list_alerts(call_id: str | None = Query(None, max_length=32),
                unacknowledged: bool = False, limit: int = Query(200, ge=1, le=1000),
                auth: Auth = Depends(read_auth), s: Session = Depends(db_session)
                ) -> dict[str, Any]:
    rows = alert_store.list_alerts(s, auth.principal, call_id=call_id,
                                   unacknowledged=unacknowledged, limit=limit)
    audit.record(s, auth.principal, "alert.list", object_type="call" if call_id else None,
                 object_id=call_id, detail={"count": len(rows)})
    return {"alerts": [alert_store.alert_dict(a) for a in rows]}


@router.post("/api/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: int, auth: Auth = Depends(read_auth),
                s: Session = Depends(db_session)) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    alert = alert_store.acknowledge(s, auth.principal, alert_id)
    if alert is None:
        audit.record(s, auth.principal, "alert.ack", object_type="alert",
                     object_id=str(alert_id), outcome="not_found")
        s.commit()
        raise HTTPException(status_code=404, detail=f"alert {alert_id} not found")
    audit.record(s, auth.principal, "alert.ack", object_type="alert", object_id=str(alert.id),
                 detail={"call_id": alert.call_id, "rule": alert.rule})
    return alert_store.alert_dict(alert)
