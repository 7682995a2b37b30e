"""Legal holds: nothing they cover may be deleted, by retention or by request."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import Call, LegalHold, utcnow


class HoldError(ValueError):
    pass


def add_hold(session: Session, actor: Principal, *, reason: str, call_id: str | None = None,
             customer_number: str | None = None, date_from: date | None = None,
             date_to: date | None = None, tz: str = "Asia/Tokyo") -> LegalHold:
    reason = reason.strip()
    if not reason:
        raise HoldError("a reason is required")
    if not (call_id or customer_number or date_from or date_to):
        raise HoldError("say what to hold: --call, --customer-number or a date range")
    if call_id and session.get(Call, call_id) is None:
        raise HoldError(f"call {call_id} not found")
    z = ZoneInfo(tz)
    hold = LegalHold(
        call_id=call_id, customer_number=customer_number, reason=reason,
        created_by=actor.name,
        date_from=datetime.combine(date_from, time.min, tzinfo=z) if date_from else None,
        date_to=datetime.combine(date_to, time.max, tzinfo=z) if date_to else None)
    session.add(hold)
    session.flush()
    audit.record(session, actor, "hold.add", object_type="hold", object_id=str(hold.id),
                 detail={"call_id": call_id, "customer_number": bool(customer_number),
                         "from": str(date_from) if date_from else None,
                         "to": str(date_to) if date_to else None, "reason": reason})
    return hold


def release_hold(session: Session, actor: Principal, hold_id: int) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise HoldError(f"hold {hold_id} not found")
    if hold.released_at is not None:
        raise HoldError(f"hold {hold_id} was already released")
    hold.released_at, hold.released_by = utcnow(), actor.name
    audit.record(session, actor, "hold.release", object_type="hold", object_id=str(hold_id))
    return hold


def _covers(call: Call):  # type: ignore[no-untyped-def]
    conds = [LegalHold.call_id == call.id]
    if call.customer_number:
        conds.append(LegalHold.customer_number == call.customer_number)
    started = call.started_at or call.created_at
    conds.append(and_(
        LegalHold.call_id.is_(None), LegalHold.customer_number.is_(None),
        or_(LegalHold.date_from.is_(None), LegalHold.date_from <= started),
        or_(LegalHold.date_to.is_(None), LegalHold.date_to >= started),
        or_(LegalHold.date_from.is_not(None), LegalHold.date_to.is_not(None))))
    return or_(*conds)


def holds_for(session: Session, call: Call) -> list[LegalHold]:
    return list(session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None),
                                                         _covers(call))))
