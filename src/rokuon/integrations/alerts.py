"""The alert store: alerts on calls (real-time rules, batch checks) with their evidence,
one per call + rule + kind, each announced once as ``alert.raised``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from rokuon.access.door import scope_filter
from rokuon.access.principal import Principal
from rokuon.integrations.webhooks import emit
from rokuon.store.models import Alert, Call, utcnow

KINDS = ("complaint", "ng_word", "silence", "no_announcement", "pci", "custom")


class AlertError(ValueError):
    pass


def _insert_once(session: Session, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on the (call_id, rule, kind) key: two workers
    raising the same alert at once store one row, and only the one that inserted emits."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(Alert).values(**values).on_conflict_do_nothing(
            index_elements=["call_id", "rule", "kind"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Alert).values(**values).on_conflict_do_nothing(
            index_elements=["call_id", "rule", "kind"])
    else:  # another backend: check, then insert (the unique constraint still holds)
        if _find(session, values["call_id"], values["rule"], values["kind"]) is not None:
            return False
        session.add(Alert(**values))
        session.flush()
        return True
    # RETURNING says whether this statement inserted (rowcount is -1 on some drivers)
    return session.execute(stmt.returning(Alert.id)).first() is not None


def _find(session: Session, call_id: str, rule: str, kind: str) -> Alert | None:
    return session.scalars(select(Alert).where(Alert.call_id == call_id, Alert.rule == rule,
                                               Alert.kind == kind)).first()


def _num(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)


def raise_alert(session: Session, *, call_id: str, rule: str, kind: str,
                speaker: str | None, start: float | None, end: float | None, text: str,
                score: float | None) -> Alert:
    """Store an alert and emit ``alert.raised`` in the caller's transaction. ``text`` is
    the evidence with personal data already masked. The same rule firing again on the
    same call returns the stored alert and emits nothing."""
    if kind not in KINDS:
        raise AlertError(f"alert kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not call_id or not rule:
        raise AlertError("an alert needs a call_id and a rule")
    rule = str(rule)[:200]
    values = {"call_id": str(call_id)[:32], "rule": rule, "kind": kind,
              "speaker": speaker[:50] if speaker else None, "start": _num(start),
              "end": _num(end), "text": text or "", "score": _num(score),
              "created_at": utcnow()}
    session.flush()
    inserted = _insert_once(session, values)
    alert = _find(session, values["call_id"], rule, kind)
    assert alert is not None
    if inserted:
        emit(session, "alert.raised", event_data(alert), call_id=alert.call_id)
    return alert


def event_data(a: Alert) -> dict[str, Any]:
    """The ``alert.raised`` payload's data (docs/integrations.md; stable, additive)."""
    return {"call_id": a.call_id, "rule": a.rule, "kind": a.kind, "speaker": a.speaker,
            "start": a.start, "end": a.end, "text": a.text, "score": a.score}


def alert_dict(a: Alert) -> dict[str, Any]:
    return {"alert_id": a.id, **event_data(a), "created_at": a.created_at.isoformat(),
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None}


def _scoped(principal: Principal, q: Select[Any]) -> Select[Any]:
    """Alerts on calls the principal may read (the door's scope). A live call's alerts
    come before its call row: only roles whose scope is every call see those."""
    calls = select(Call.id)
    scoped = scope_filter(principal, calls)
    if scoped is calls:  # the door left the query as it was: all calls
        return q
    return q.where(Alert.call_id.in_(scoped))


def list_alerts(session: Session, principal: Principal, *, call_id: str | None = None,
                unacknowledged: bool = False, limit: int = 200) -> list[Alert]:
    q = select(Alert)
    if call_id:
        q = q.where(Alert.call_id == call_id)
    if unacknowledged:
        q = q.where(Alert.acknowledged_at.is_(None))
    q = _scoped(principal, q).order_by(Alert.created_at.desc(), Alert.id.desc())
    return list(session.scalars(q.limit(max(1, min(limit, 1000)))))


def acknowledge(session: Session, principal: Principal, alert_id: int) -> Alert | None:
    """Mark an alert seen (the first acknowledgement stays). None: unknown or out of
    the principal's scope (the two look the same)."""
    alert = session.scalars(_scoped(principal, select(Alert).where(Alert.id == alert_id))
                            ).first()
    if alert is None:
        return None
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = principal.name[:320], utcnow()
        session.flush()
    return alert
