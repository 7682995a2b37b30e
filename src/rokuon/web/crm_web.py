"""CRM deliveries and after-call SMS in the browser and over HTTP (administrators).
Thin: parse, call rokuon.integrations.crm / sms, audit, answer.

- ``GET  /admin/crm``: the CRM targets (or what is wrong with crm.yaml), failing and
  recent deliveries with the CRM's own error text, recent SMS messages
- ``POST /admin/crm/deliveries/{delivery_id}/retry`` (form with ``csrf``): send again
- ``GET  /api/crm/deliveries?status=dead&target=`` → ``{"deliveries": [...]}``
- ``GET  /api/sms/messages?call_id=`` → ``{"messages": [...]}`` (numbers masked)
The routes of rokuon.web.sms_web and rokuon.web.twilio_web are included here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.integrations import sms
from rokuon.integrations.crm import config, outbox
from rokuon.integrations.crm.errors import CrmConfigError
from rokuon.runtime import Runtime
from rokuon.store.models_integrations import SmsMessage
from rokuon.web import sms_web, twilio_web
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    require_action,
    require_scope,
    runtime,
    ui_auth,
)

router = APIRouter()
router.include_router(sms_web.router)  # the call page's SMS button, Twilio's inbound hook
router.include_router(twilio_web.router)  # Twilio's recording status callback


def admin_api(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "admin")
    return auth


def _messages(s: Session, call_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    q = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if call_id:
        q = q.where(SmsMessage.call_id == call_id)
    return [sms.message_dict(m) for m in s.scalars(q)]


@router.get("/admin/crm", response_class=HTMLResponse)
def crm_page(request: Request, auth: Auth = Depends(ui_auth),
             s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    from rokuon.web.ui import render

    require_action(auth, "admin")
    config_error = None
    try:
        targets = config.load(config.targets_path(rt.settings))
    except CrmConfigError as exc:
        targets, config_error = [], str(exc)
    rows = [outbox.delivery_dict(d) for d in outbox.list_deliveries(s, limit=200)]
    failing = [r for r in rows if r["status"] == "dead"
               or (r["status"] == "pending" and r["last_error"])]
    return render(request, "crm.html", auth=auth, targets=targets,
                  config_error=config_error, failing=failing, deliveries=rows[:50],
                  messages=_messages(s), notice=request.query_params.get("done"))


@router.post("/admin/crm/deliveries/{delivery_id}/retry")
def retry_form(delivery_id: str, csrf: str = Form(""), auth: Auth = Depends(ui_auth),
               s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    require_action(auth, "admin")
    if not delivery_id.isdigit():
        raise HTTPException(status_code=404, detail=f"no CRM delivery {delivery_id[:20]}")
    try:
        outbox.retry(s, int(delivery_id))
    except CrmConfigError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    audit.record(s, auth.principal, "crm.retry", object_type="crm_delivery",
                 object_id=delivery_id)
    return RedirectResponse("/admin/crm?done=retry", status_code=303)


@router.get("/api/crm/deliveries")
def deliveries_api(status: str | None = None, target: str | None = None,
                   auth: Auth = Depends(admin_api), s: Session = Depends(db_session)
                   ) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    try:
        rows = outbox.list_deliveries(s, status=status, target=target)
    except CrmConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return {"deliveries": [outbox.delivery_dict(d) for d in rows]}


@router.get("/api/sms/messages")
def messages_api(call_id: str | None = None, auth: Auth = Depends(admin_api),
                 s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    return {"messages": _messages(s, call_id, limit=200)}
