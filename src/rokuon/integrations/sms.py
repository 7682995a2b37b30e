"""After-call SMS: a templated follow-up to the customer through Twilio's Messages API
or a generic HTTP SMS gateway (docs/integrations.md).

Triggered by a rule (``sms_rule_flags``: after analysis, when the call has one of these
flags, a message is queued in the analysis transaction and sent by the worker) or by the
agent from the call page. Never sent when the customer refused the recording or said no
to it (the call's ``consent`` analysis), when the number opted out (the opt-out list; a
STOP reply to the Twilio number adds it), or when the number is not a phone number
(E.164 after normalisation). Every message, sent or refused, is stored with what the
provider answered, and audited."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rokuon.store.models import AnalysisResult, Call, utcnow
from rokuon.store.models_integrations import SmsMessage, SmsOptOut

if TYPE_CHECKING:
    from rokuon.runtime import Runtime

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "停止", "配信停止"}
START_WORDS = {"start", "unstop", "yes"}
DEFAULT_TEMPLATE = ("本日はお電話ありがとうございました。ご不明な点がございましたら"
                    "お気軽にお問い合わせください。配信停止はSTOPと返信してください。")
TIMEOUT_S = 15.0


class SmsError(ValueError):
    """The message cannot be sent (the text says why)."""


def normalise(number: str | None, country_code: str = "81") -> str:
    """The number in E.164 (``+819012345678``): separators dropped, a domestic number
    (leading 0) given the installation's country code. Raises SmsError otherwise."""
    raw = (number or "").strip()
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0") and country_code:
        digits = f"+{country_code}{digits[1:]}"
    if not E164.match(digits):
        shown = raw[:4] + "…" if len(raw) > 4 else raw
        raise SmsError(f"not a phone number: {shown!r} (E.164 is + and 8-15 digits, "
                       "e.g. +819012345678)")
    return digits


def consent_block(session: Session, call_id: str) -> str | None:
    """Why the customer must not get an SMS (refused / said no), from the newest
    consent analysis; None when nothing objects."""
    payload = session.scalars(select(AnalysisResult.payload)
                              .where(AnalysisResult.call_id == call_id,
                                     AnalysisResult.analyzer == "consent")
                              .order_by(AnalysisResult.version.desc(),
                                        AnalysisResult.id.desc())).first()
    return _blocked_by(payload)


def _blocked_by(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    if payload.get("refused"):
        return "the customer refused the recording"
    if payload.get("answer") == "no":
        return "the customer did not consent"
    return None


def opted_out(session: Session, number: str) -> bool:
    return session.get(SmsOptOut, number) is not None


def set_opt_out(session: Session, number: str, *, source: str, on: bool = True) -> bool:
    """Add (or remove) a number; True when something changed."""
    row = session.get(SmsOptOut, number)
    if on and row is None:
        session.add(SmsOptOut(number=number, source=source, created_at=utcnow()))
        session.flush()
        return True
    if not on and row is not None:
        session.delete(row)
        session.flush()
        return True
    return False


def render(settings: Any, call: Call) -> str:
    from rokuon.integrations.crm.activity import build
    from rokuon.integrations.crm.config import render as fill

    doc = build(call, {}, public_url=settings.public_url)
    doc.pop("customer_number", None)  # the text never repeats the number
    return fill(settings.sms_template or DEFAULT_TEMPLATE, doc)[:1600]


def prepare(session: Session, settings: Any, call: Call, *, trigger: str,
            actor: str | None, consent: Any = None) -> SmsMessage:
    """The message row for a call: ``queued``, or ``refused`` with the reason (consent,
    opt-out, no number, SMS not configured). Nothing is sent here."""
    status, error, to = "queued", None, (call.customer_number or "")[:20]
    try:
        if not settings.sms_provider:
            raise SmsError("SMS is not configured (set sms_provider to twilio or http)")
        to = normalise(call.customer_number, settings.sms_country_code)
        why = _blocked_by(consent) if consent is not None else consent_block(session,
                                                                             call.id)
        if why:
            raise SmsError(f"not sent: {why}")
        if opted_out(session, to):
            raise SmsError("not sent: the number opted out of SMS")
    except SmsError as exc:
        status, error = "refused", str(exc)
    msg = SmsMessage(call_id=call.id, to_number=to, body=render(settings, call),
                     provider=settings.sms_provider or "-", trigger=trigger, status=status,
                     error=error, created_by=actor, created_at=utcnow())
    session.add(msg)
    session.flush()
    return msg


def enqueue_by_rule(session: Session, settings: Any, call: Call,
                    results: dict[str, tuple[int, Any]]) -> SmsMessage | None:
    """After analysis: queue a message when the call has one of ``sms_rule_flags``."""
    from rokuon.access import audit
    from rokuon.integrations.crm.activity import flags_of

    wanted = set(settings.sms_rule_flags or [])
    hit = sorted(wanted & set(flags_of(results)))
    if not wanted or not hit or not call.customer_number:
        return None
    if session.scalars(select(SmsMessage.id).where(SmsMessage.call_id == call.id,
                                                   SmsMessage.trigger == "rule")).first():
        return None  # analysed again: one rule message per call
    msg = prepare(session, settings, call, trigger="rule", actor="system",
                  consent=results.get("consent", (0, None))[1])
    audit.record(session, "system", "sms.queue", object_type="call", object_id=call.id,
                 outcome="ok" if msg.status == "queued" else "denied",
                 detail={"message_id": msg.id, "flags": hit, "error": msg.error})
    return msg


def _send_twilio(settings: Any, to: str, body: str) -> tuple[str, str]:
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.rest import Client

    if not (settings.twilio_account_sid and settings.twilio_auth_token
            and settings.sms_from):
        raise SmsError("Twilio SMS needs twilio_account_sid, twilio_auth_token and "
                       "sms_from")
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    try:
        m = client.messages.create(to=to, from_=settings.sms_from, body=body)
    except TwilioRestException as exc:
        raise SmsError(f"Twilio HTTP {exc.status} (error {exc.code}): {exc.msg}"[:400]
                       ) from None
    except (TwilioException, OSError) as exc:
        raise SmsError(f"Twilio unreachable: {exc}"[:300]) from None
    return str(m.sid), str(m.status or "queued")


def _send_http(settings: Any, to: str, body: str, ref: str) -> tuple[str, str]:
    import httpx

    if not settings.sms_http_url:
        raise SmsError("the HTTP SMS gateway needs sms_http_url")
    headers = {"authorization": f"Bearer {settings.sms_http_token}"} \
        if settings.sms_http_token else {}
    try:
        r = httpx.post(settings.sms_http_url, timeout=TIMEOUT_S, headers=headers,
                       json={"to": to, "from": settings.sms_from, "body": body,
                             "reference": ref})
    except httpx.HTTPError as exc:
        raise SmsError(f"SMS gateway unreachable: {type(exc).__name__}: {exc}"[:300]
                       ) from None
    if not 200 <= r.status_code < 300:
        raise SmsError(f"SMS gateway HTTP {r.status_code}: {r.text[:200]}")
    try:
        doc = r.json()
    except ValueError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    return str(doc.get("id") or ""), str(doc.get("status") or "sent")


def deliver(rt: Runtime, message_id: int) -> SmsMessage:
    """Send one queued message and store the outcome (sent/queued at the provider, or
    failed with its error); audited."""
    from rokuon.access import audit

    with rt.db.session() as s:
        m = s.get(SmsMessage, message_id)
        if m is None:
            raise SmsError(f"no SMS message {message_id}")
        claimed = s.execute(update(SmsMessage).where(SmsMessage.id == message_id,
                                                     SmsMessage.status == "queued")
                            .values(status="sending")  # another worker skips it
                            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            s.refresh(m)
            s.expunge(m)
            return m
        to, body, ref = m.to_number, m.body, f"rokuon-sms-{m.id}"
    st = rt.settings
    try:
        if st.sms_provider == "twilio":
            pid, status = _send_twilio(st, to, body)
        else:
            pid, status = _send_http(st, to, body, ref)
        err = None
    except SmsError as exc:
        pid, status, err = None, "failed", str(exc)
    with rt.db.session() as s:
        m = s.get(SmsMessage, message_id)
        assert m is not None
        m.status, m.provider_id, m.error = status, pid, err
        audit.record(s, "system", "sms.send", object_type="call", object_id=m.call_id,
                     outcome="ok" if err is None else "error",
                     detail={"message_id": m.id, "provider": m.provider,
                             "provider_id": pid, "status": status, "error": err})
        s.flush()
        s.expunge(m)
    return m


def deliver_queued(rt: Runtime, limit: int = 20) -> int:
    with rt.db.session() as s:
        ids = list(s.scalars(select(SmsMessage.id).where(SmsMessage.status == "queued")
                             .order_by(SmsMessage.id).limit(limit)))
    for mid in ids:
        deliver(rt, mid)
    return len(ids)


def inbound(session: Session, from_number: str, body: str) -> str | None:
    """A reply to the SMS number: STOP (and its synonyms, 停止) opts the number out,
    START opts it back in. Returns what changed ("opt_out", "opt_in") or None."""
    word = (body or "").strip().lower()
    try:
        number = normalise(from_number, "")
    except SmsError:
        return None
    if word in STOP_WORDS:
        set_opt_out(session, number, source="stop-reply")
        return "opt_out"
    if word in START_WORDS:
        set_opt_out(session, number, source="stop-reply", on=False)
        return "opt_in"
    return None


def message_dict(m: SmsMessage) -> dict[str, Any]:
    masked = m.to_number[:-4] + "****" if len(m.to_number) > 6 else "****"
    return {"message_id": m.id, "call_id": m.call_id, "to": masked, "status": m.status,
            "provider": m.provider, "provider_id": m.provider_id, "trigger": m.trigger,
            "error": m.error, "created_by": m.created_by,
            "created_at": m.created_at.isoformat()}
