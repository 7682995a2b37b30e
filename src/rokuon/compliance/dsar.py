"""Data subject requests (開示等の請求, APPI art. 33–35; GDPR art. 15–21).

A request is opened for a customer (number, name, date range); rokuon locates every
call of theirs, records the identity check, a decision per call (disclose / partial /
refuse with the art. 33(2) reason), the fee and the deadline, and builds the masked
disclosure package (``package.py``). Correction, stop-use and erasure requests act on
the located calls. Everything is audited."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.store.models import (
    Call,
    DataRequest,
    DataRequestCall,
    Segment,
    Transcript,
    TranscriptCorrection,
    utcnow,
)
from rokuon.text.normalize import normalize

KINDS = ("disclosure", "correction", "stop_use", "erasure")
DECISIONS = ("pending", "disclose", "partial", "refuse")
# APPI art. 33(2): the only grounds for not disclosing (all or part)
REFUSAL_GROUNDS = {
    "harm": "本人又は第三者の生命、身体、財産その他の権利利益を害するおそれがある (art. 33(2)(i))",
    "business": "当社の業務の適正な実施に著しい支障を及ぼすおそれがある (art. 33(2)(ii))",
    "law": "他の法令に違反することとなる (art. 33(2)(iii))",
    "not_found": "保有個人データが存在しない",
}
DEFAULT_DUE_DAYS = 14


class RequestError(ValueError):
    pass


def _digits(s: str | None) -> str:
    return re.sub(r"\D", "", normalize(s or ""))


def _guard(principal: Principal) -> None:
    if not door.can_handle_requests(principal):
        raise door.AccessDenied("only an admin or a compliance officer handles data requests")


def _get(session: Session, request_id: str) -> DataRequest:
    req = session.get(DataRequest, request_id)
    if req is None:
        raise RequestError(f"request {request_id} not found")
    return req


def locate_calls(session: Session, *, customer_number: str | None, name: str | None,
                 date_from: datetime | None, date_to: datetime | None) -> list[str]:
    """Calls of the customer: same number (digits compared), or the name said by the
    customer in the transcript; within the date range when one is given."""
    ids: set[str] = set()
    digits = _digits(customer_number)
    if digits:
        for cid, num in session.execute(select(Call.id, Call.customer_number)
                                        .where(Call.customer_number.is_not(None))):
            if _digits(num) == digits:
                ids.add(cid)
    if name and normalize(name):
        needle = f"%{normalize(name)}%"
        q = (select(Segment.call_id).join(Transcript, (Transcript.id == Segment.transcript_id)
                                          & Transcript.is_current)
             .where(Segment.norm_text.like(needle), Segment.speaker != "agent"))
        ids |= set(session.scalars(q))
    if not ids:
        return []
    q = select(Call).where(Call.id.in_(ids), Call.wrapped_key.is_not(None))
    if date_from:
        q = q.where(or_(Call.started_at >= date_from, Call.started_at.is_(None)))
    if date_to:
        q = q.where(or_(Call.started_at <= date_to, Call.started_at.is_(None)))
    return [c.id for c in session.scalars(q.order_by(Call.started_at, Call.id))]


def create_request(session: Session, principal: Principal, *, kind: str = "disclosure",
                   customer_number: str | None = None, name: str | None = None,
                   contact: str | None = None, detail: str | None = None,
                   date_from: date | None = None, date_to: date | None = None,
                   due_days: int = DEFAULT_DUE_DAYS, tz: str = "Asia/Tokyo") -> DataRequest:
    _guard(principal)
    if kind not in KINDS:
        raise RequestError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not (_digits(customer_number) or (name and name.strip())):
        raise RequestError("say whose data: a customer number or a name")
    z = ZoneInfo(tz)
    dfrom = datetime.combine(date_from, time.min, tzinfo=z) if date_from else None
    dto = datetime.combine(date_to, time.max, tzinfo=z) if date_to else None
    now = utcnow()
    req = DataRequest(kind=kind, status="received", customer_number=customer_number,
                      customer_name=(name or "").strip() or None, contact=contact,
                      detail=detail, date_from=dfrom, date_to=dto, received_at=now,
                      due_at=now + timedelta(days=due_days), created_by=principal.name)
    session.add(req)
    session.flush()
    located = locate_calls(session, customer_number=customer_number, name=name,
                           date_from=dfrom, date_to=dto)
    for cid in located:
        session.add(DataRequestCall(request_id=req.id, call_id=cid))
    session.flush()
    audit.record(session, principal, "request.create", object_type="request", object_id=req.id,
                 detail={"kind": kind, "calls": len(located)})
    return req


def calls_of(session: Session, request_id: str) -> list[DataRequestCall]:
    return list(session.scalars(select(DataRequestCall).where(
        DataRequestCall.request_id == request_id).order_by(DataRequestCall.id)))


def verify_identity(session: Session, principal: Principal, request_id: str, *, method: str,
                    note: str | None = None) -> DataRequest:
    _guard(principal)
    req = _get(session, request_id)
    if not method.strip():
        raise RequestError("say how the identity was verified (e.g. 'driver licence copy')")
    req.identity = {"method": method.strip(), "verified_by": principal.name,
                    "verified_at": utcnow().isoformat(), "note": note}
    if req.status == "received":
        req.status = "verified"
    audit.record(session, principal, "request.verify_identity", object_type="request",
                 object_id=request_id, detail={"method": method.strip()})
    return req


def decide(session: Session, principal: Principal, request_id: str, decision: str, *,
           call_id: str | None = None, reason: str | None = None) -> list[DataRequestCall]:
    """Decide on one located call or (call_id None) on every pending one."""
    _guard(principal)
    req = _get(session, request_id)
    if decision not in DECISIONS[1:]:
        raise RequestError(f"decision must be disclose, partial or refuse; got {decision!r}")
    if decision in ("refuse", "partial") and reason not in REFUSAL_GROUNDS:
        raise RequestError("a refusal or partial disclosure needs a ground: "
                           + ", ".join(REFUSAL_GROUNDS))
    items = [i for i in calls_of(session, request_id)
             if (call_id is None and i.decision == "pending") or i.call_id == call_id]
    if call_id is not None and not items:
        raise RequestError(f"call {call_id} is not part of request {request_id}")
    for item in items:
        item.decision, item.reason = decision, reason
        item.decided_by, item.decided_at = principal.name, utcnow()
    if all(i.decision != "pending" for i in calls_of(session, request_id)):
        req.status = "decided"
    audit.record(session, principal, "request.decide", object_type="request",
                 object_id=request_id, detail={"decision": decision, "reason": reason,
                                               "calls": [i.call_id for i in items]})
    return items


def record_fee(session: Session, principal: Principal, request_id: str, yen: int) -> None:
    _guard(principal)
    req = _get(session, request_id)
    req.fee_yen, req.fee_paid_at = yen, utcnow()
    audit.record(session, principal, "request.fee", object_type="request",
                 object_id=request_id, detail={"yen": yen})


def overdue(session: Session, now: datetime | None = None) -> list[DataRequest]:
    """Open requests past (or within a day of) their deadline — the reminders."""
    now = now or utcnow()
    q = select(DataRequest).where(DataRequest.closed_at.is_(None),
                                  DataRequest.due_at <= now + timedelta(days=1))
    return list(session.scalars(q.order_by(DataRequest.due_at)))


def stop_use(session: Session, principal: Principal, call_id: str, *, reason: str,
             request_id: str | None = None) -> Call:
    """Stop using a call (kept for its legal purpose): out of analytics, coaching and
    exports; playback only for the purposes 'dispute' / 'legal'."""
    _guard(principal)
    if not reason.strip():
        raise RequestError("a reason is required")
    call = door.get_call(session, principal, call_id, action="call.stop_use",
                         detail={"reason": reason, "request": request_id})
    call.use_stopped_at, call.use_stopped_reason = utcnow(), reason.strip()
    return call


def correct(session: Session, principal: Principal, call_id: str, segment_idx: int,
            text: str, *, note: str | None = None, request_id: str | None = None
            ) -> TranscriptCorrection:
    """Record a correction of one transcript line; the original stays as it was."""
    _guard(principal)
    door.get_call(session, principal, call_id, action="call.correct",
                  detail={"segment": segment_idx, "request": request_id})
    seg = session.scalars(select(Segment).join(
        Transcript, (Transcript.id == Segment.transcript_id) & Transcript.is_current)
        .where(Segment.call_id == call_id, Segment.idx == segment_idx)).first()
    if seg is None:
        raise RequestError(f"call {call_id} has no transcript line {segment_idx}")
    if not text.strip():
        raise RequestError("the corrected text is empty")
    c = TranscriptCorrection(call_id=call_id, segment_idx=segment_idx, original_text=seg.text,
                             corrected_text=text.strip(), note=note, request_id=request_id,
                             corrected_by=principal.name)
    session.add(c)
    return c


def close(session: Session, principal: Principal, request_id: str, outcome: str) -> DataRequest:
    _guard(principal)
    req = _get(session, request_id)
    req.status, req.outcome, req.closed_at = "closed", outcome, utcnow()
    audit.record(session, principal, "request.close", object_type="request",
                 object_id=request_id, detail={"outcome": outcome})
    return req


def describe(session: Session, req: DataRequest) -> dict[str, Any]:
    items = calls_of(session, req.id)
    return {
        "request_id": req.id, "kind": req.kind, "status": req.status,
        "customer_number": req.customer_number, "customer_name": req.customer_name,
        "contact": req.contact, "detail": req.detail,
        "received_at": req.received_at.isoformat(), "due_at": req.due_at.isoformat(),
        "identity": req.identity, "fee_yen": req.fee_yen, "outcome": req.outcome,
        "calls": [i.call_id for i in items],
        "decisions": [{"call_id": i.call_id, "decision": i.decision, "reason": i.reason,
                       "ground": REFUSAL_GROUNDS.get(i.reason or ""),
                       "decided_by": i.decided_by} for i in items],
    }


def erase_request(rt: Any, principal: Principal, request_id: str) -> dict[str, list[str]]:
    """Carry out an erasure request: crypto-shred every located call, except those a
    legal hold (or other refusal) keeps — for them the refusal and its reason are
    recorded as the decision. The request is closed with the outcome."""
    from rokuon.calls.erase import EraseRefused, erase_call

    _guard(principal)
    with rt.db.session() as s:
        req = _get(s, request_id)
        if req.kind != "erasure":
            raise RequestError(f"request {request_id} is a {req.kind} request, not an erasure")
        ids = [i.call_id for i in calls_of(s, request_id) if i.decision in ("pending",
                                                                             "disclose")]
    erased: list[str] = []
    refused: dict[str, str] = {}
    for cid in ids:
        try:
            erase_call(rt, principal, cid, reason=f"erasure request {request_id}")
            erased.append(cid)
        except EraseRefused as exc:
            refused[cid] = str(exc)
    with rt.db.session() as s:
        for item in calls_of(s, request_id):
            if item.call_id in erased:
                item.decision, item.reason = "disclose", "erased"
            elif item.call_id in refused:
                item.decision, item.reason = "refuse", refused[item.call_id][:500]
            item.decided_by, item.decided_at = principal.name, utcnow()
        outcome = f"erased {len(erased)} call(s)" + (
            f"; kept {len(refused)}: " + "; ".join(refused.values()) if refused else "")
        close(s, principal, request_id, outcome[:2000])
    return {"erased": erased, "refused": sorted(refused)}
