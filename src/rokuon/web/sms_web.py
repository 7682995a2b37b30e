"""After-call SMS over HTTP. Thin: parse, call rokuon.integrations.sms, answer.

- ``POST /calls/{call_id}/sms`` (the call page's button; form with ``csrf``): the agent
  sends the call's follow-up SMS — the ``read`` permission on that call (the door's
  scope: an operator only their own calls); refused messages say why (consent, opt-out,
  not a phone number); back to the call page with the outcome
- ``POST /api/sms/twilio/inbound``: Twilio's incoming-message webhook; the
  ``X-Twilio-Signature`` (HMAC-SHA1 with ``twilio_auth_token``) is the credential;
  STOP/停止 opts the sender out, START back in; answers empty TwiML
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.integrations import sms
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, check_csrf, db_session, require_action, runtime, ui_auth

router = APIRouter()
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post("/calls/{call_id}/sms")
def send_form(call_id: str, request: Request, csrf: str = Form(""),
              auth: Auth = Depends(ui_auth), s: Session = Depends(db_session),
              rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf or request.headers.get("x-csrf-token"))
    require_action(auth, "read")
    try:
        call = door.get_call(s, auth.principal, call_id, action="sms.request")
    except door.NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except door.AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    m = sms.prepare(s, rt.settings, call, trigger="agent", actor=auth.principal.name)
    audit.record(s, auth.principal, "sms.queue", object_type="call", object_id=call_id,
                 outcome="ok" if m.status == "queued" else "denied",
                 detail={"message_id": m.id, "error": m.error})
    mid, status, error = m.id, m.status, m.error
    s.commit()
    if status == "queued":
        sent = sms.deliver(rt, mid)
        status, error = sent.status, sent.error
    q = f"sms={quote(status)}" + (f"&sms_error={quote((error or '')[:300])}" if error else "")
    return RedirectResponse(f"/calls/{call_id}?{q}#sms", status_code=303)


def _signed(request: Request, rt: Runtime, params: dict[str, str]) -> bool:
    from twilio.request_validator import RequestValidator

    token = rt.settings.twilio_auth_token
    if not token:
        return False
    url = str(request.url)
    if rt.settings.public_url:
        url = rt.settings.public_url.rstrip("/") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
    return RequestValidator(token).validate(url, params,
                                            request.headers.get("x-twilio-signature", ""))


@router.post("/api/sms/twilio/inbound")
async def twilio_inbound(request: Request, rt: Runtime = Depends(runtime)) -> Response:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    if not _signed(request, rt, params):
        raise HTTPException(status_code=403, detail="the X-Twilio-Signature does not match "
                                                    "(twilio_auth_token, public_url)")
    with rt.db.session() as s:
        change = sms.inbound(s, params.get("From", ""), params.get("Body", ""))
        if change:
            number = params.get("From", "")
            audit.record(s, "twilio", f"sms.{change}", object_type="phone",
                         object_id=number[:-4] + "****", source="twilio",
                         detail={"message_sid": params.get("MessageSid")})
    return Response(EMPTY_TWIML, media_type="application/xml")
