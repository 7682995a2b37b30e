"""The CRM outbox: one ``CrmDelivery`` per analysed call and configured target, written
in the analysis transaction; sent with a lease (several processes may deliver, never the
same row at once), retried after 5 s, 30 s, 2 min, 10 min and 1 h (or after the CRM's
Retry-After on 429), then dead until ``rokuon crm retry`` or the admin page sends it
again. A row is unique per (target, call): analysing a call again re-sends the same
activity, which the CRM clients upsert by the call id — never a second activity."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rokuon.integrations.crm import activity as activity_doc
from rokuon.integrations.crm.config import Target, find, load, targets_path
from rokuon.integrations.crm.errors import CrmConfigError, CrmError
from rokuon.store.models import Call, utcnow
from rokuon.store.models_integrations import CrmDelivery

if TYPE_CHECKING:
    from rokuon.runtime import Runtime

log = logging.getLogger("rokuon.crm")

BACKOFF_S: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 3600.0)
STATUSES = ("pending", "delivered", "dead")
LEASE_S = 60.0


def enqueue(session: Session, call: Call, results: dict[str, tuple[int, Any]],
            settings: Any) -> list[CrmDelivery]:
    """The call's activity for every configured target (re-analysis: the same row is
    sent again with the new document)."""
    try:
        targets = load(targets_path(settings))
    except CrmConfigError as exc:
        log.error("CRM deliveries not queued for call %s: %s", call.id, exc)
        return []
    rows: list[CrmDelivery] = []
    now = utcnow()
    for t in targets:
        doc = activity_doc.build(call, results, public_url=settings.public_url,
                                 include_audio=t.include_audio)
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
        row = session.scalars(select(CrmDelivery).where(CrmDelivery.target == t.name,
                                                        CrmDelivery.call_id == call.id)
                              ).first()
        if row is None:
            row = CrmDelivery(target=t.name, kind=t.kind, call_id=call.id, attempts=0,
                              created_at=now)
            session.add(row)
        row.payload, row.status, row.next_attempt_at = payload, "pending", now
        row.attempts, row.kind = 0, t.kind
        row.locked_until = None  # an attempt in flight with the old document is not recorded
        rows.append(row)
    if rows:
        session.flush()
    return rows


def send_one(target: Target, doc: dict[str, Any]) -> str:
    if target.kind == "salesforce":
        from rokuon.integrations.crm import salesforce as client
    elif target.kind == "hubspot":
        from rokuon.integrations.crm import hubspot as client  # type: ignore[no-redef]
    else:
        from rokuon.integrations.crm import kintone as client  # type: ignore[no-redef]
    return client.send(target, doc)


def _due(now: Any) -> tuple[Any, ...]:
    return (CrmDelivery.status == "pending", CrmDelivery.next_attempt_at <= now,
            or_(CrmDelivery.locked_until.is_(None), CrmDelivery.locked_until < now))


def deliver_due(rt: Runtime, *, limit: int = 20,
                backoff_s: tuple[float, ...] = BACKOFF_S) -> int:
    """Claim and send up to ``limit`` due deliveries, one after the other. Returns how
    many were attempted."""
    done = 0
    while done < limit:
        now = utcnow()
        with rt.db.session() as s:
            ids = list(s.scalars(select(CrmDelivery.id).where(*_due(now))
                                 .order_by(CrmDelivery.id).limit(limit)))
        if not ids:
            return done
        progressed = False
        for did in ids:
            lease = utcnow() + timedelta(seconds=LEASE_S)
            with rt.db.session() as s:
                claimed = s.execute(update(CrmDelivery)
                                    .where(CrmDelivery.id == did, *_due(utcnow()))
                                    .values(locked_until=lease)
                                    .execution_options(synchronize_session=False)).rowcount
            if not claimed:
                continue
            _attempt(rt, did, lease, backoff_s)
            done += 1
            progressed = True
            if done >= limit:
                break
        if not progressed:
            return done
    return done


def _attempt(rt: Runtime, delivery_id: int, lease: Any, backoff_s: tuple[float, ...]
             ) -> None:
    with rt.db.session() as s:
        d = s.get(CrmDelivery, delivery_id)
        assert d is not None
        name, attempts, payload = d.target, d.attempts, d.payload
    external: str | None = None
    error: CrmError | None = None
    try:
        target = find(rt.settings, name)
        if target is None:
            raise CrmError(f"the target {name!r} is no longer in crm.yaml", permanent=True)
        external = send_one(target, json.loads(payload))
    except CrmError as exc:
        error = exc
    except CrmConfigError as exc:  # crm.yaml broken: retried, fixing the file resumes
        error = CrmError(str(exc))
    except Exception as exc:  # noqa: BLE001 - an attempt never kills the worker
        log.exception("CRM delivery %s failed inside rokuon", delivery_id)
        error = CrmError(f"internal error: {exc}"[:300])
    n = attempts + 1
    now = utcnow()
    values: dict[str, Any] = {"attempts": n, "locked_until": None}
    if error is None:
        values.update(status="delivered", delivered_at=now, external_id=external,
                      last_error=None, response_code=None)
        log.info("CRM delivery %s to %s: record %s", delivery_id, name, external)
    else:
        values.update(last_error=str(error), response_code=error.code)
        if error.permanent or n > len(backoff_s):
            values["status"] = "dead"
            log.error("CRM delivery %s to %s is dead after %d attempt(s): %s",
                      delivery_id, name, n, error)
        else:
            wait = backoff_s[n - 1]
            if error.retry_after is not None:
                wait = error.retry_after
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=wait))
            log.warning("CRM delivery %s to %s failed (attempt %d): %s; next in %g s",
                        delivery_id, name, n, error, wait)
    with rt.db.session() as s:
        s.execute(update(CrmDelivery).where(CrmDelivery.id == delivery_id,
                                            CrmDelivery.locked_until == lease)
                  .values(**values).execution_options(synchronize_session=False))


def delivery_dict(d: CrmDelivery) -> dict[str, Any]:
    return {"delivery_id": d.id, "target": d.target, "kind": d.kind, "call_id": d.call_id,
            "status": d.status, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending"
            else None,
            "last_error": d.last_error, "response_code": d.response_code,
            "external_id": d.external_id, "created_at": d.created_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None}


def list_deliveries(session: Session, *, status: str | None = None,
                    target: str | None = None, limit: int = 100) -> list[CrmDelivery]:
    if status is not None and status not in STATUSES:
        raise CrmConfigError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    q = select(CrmDelivery).order_by(CrmDelivery.id.desc()).limit(max(1, limit))
    if status:
        q = q.where(CrmDelivery.status == status)
    if target:
        q = q.where(CrmDelivery.target == target)
    return list(session.scalars(q))


def retry(session: Session, delivery_id: int) -> CrmDelivery:
    """Send a dead (or pending) delivery again, with a fresh series of attempts; a
    delivered one is sent again too (the CRM upserts it: an update, not a duplicate)."""
    d = session.get(CrmDelivery, delivery_id)
    if d is None:
        raise CrmConfigError(f"no CRM delivery {delivery_id}")
    if d.status != "pending" or d.locked_until is None:
        d.status, d.attempts, d.locked_until = "pending", 0, None
    d.next_attempt_at = utcnow()
    session.flush()
    return d
