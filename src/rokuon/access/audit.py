"""The tamper-evident audit log.

Every entry is written in the caller's transaction (an action and its audit record
commit or roll back together) and chained: ``hash = HMAC(audit key, canonical(entry
incl. seq and prev_hash))``. The single ``audit_head`` row holds the last seq and
hash; updating it first serialises appends on every backend. ``verify`` walks the
chain and says where it breaks: a changed entry (hash), a deleted one (seq gap /
prev_hash), an inserted or reordered one (prev_hash), a cut tail (head mismatch).
Signed checkpoints let an outside party check the chain with the public key only.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rokuon.access.audit_keys import AuditKeys, verify_signature
from rokuon.access.principal import Principal
from rokuon.store.models import AuditCheckpoint, AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


class AuditNotConfigured(RuntimeError):
    pass


def _keys(session: Session) -> AuditKeys:
    keys = session.info.get("audit_keys")
    if keys is None:
        raise AuditNotConfigured("the audit log needs the installation's audit keys")
    return keys


def _ts(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(e: AuditEntry) -> bytes:
    return json.dumps(
        [e.seq, e.prev_hash, _ts(e.at), e.actor, e.action, e.object_type, e.object_id,
         e.purpose, e.source, e.outcome, e.detail or {}],
        ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    purpose: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    source: str | None = None,
) -> AuditEntry:
    keys = _keys(session)
    name = actor.name if isinstance(actor, Principal) else actor
    src = source or (actor.source if isinstance(actor, Principal) else None)
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == 1)
                    .values(seq=AuditHead.seq + 1))  # takes the append lock
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash)
                                .where(AuditHead.id == 1)).one()
    entry = AuditEntry(seq=seq, prev_hash=prev, at=utcnow(), actor=name[:320], action=action,
                       object_type=object_type, object_id=object_id, purpose=purpose,
                       source=src[:100] if src else None, outcome=outcome,
                       detail=json.loads(json.dumps(detail or {}, default=str)))
    entry.hash = keys.mac(canonical(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None
    reason: str | None
    legacy_unchained: int
    checkpoints_ok: int

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def verify(session: Session, *, public_pem: bytes | None = None) -> VerifyResult:
    """Walk the whole chain. ``first_bad`` is the id of the first entry that does not
    fit (or of the last good one when the tail was cut)."""
    keys = _keys(session)
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    legacy = [r for r in rows if r.seq is None]
    chained = sorted((r for r in rows if r.seq is not None), key=lambda r: r.seq or 0)
    head = session.get(AuditHead, 1)

    def bad(entry_id: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, len(rows), entry_id, reason, len(legacy), 0)

    if chained and legacy and max(r.id for r in legacy) > min(r.id for r in chained):
        late = next(r for r in legacy if r.id > min(c.id for c in chained))
        return bad(late.id, "entry without a chain position after the chain began "
                            "(inserted)")
    prev_hash, prev_id = GENESIS, None
    by_seq: dict[int, str] = {}
    for expected_seq, e in enumerate(chained, start=1):
        if e.seq != expected_seq:
            return bad(e.id, f"sequence jumps from {expected_seq - 1} to {e.seq} "
                             "(entry deleted)")
        if e.prev_hash != prev_hash:
            return bad(e.id, "does not follow the previous entry (inserted, deleted or "
                             "reordered)")
        if keys.mac(canonical(e)) != e.hash:
            return bad(e.id, "content does not match its hash (changed)")
        if prev_id is not None and e.id < prev_id:
            return bad(e.id, "stored out of order (reordered)")
        prev_hash, prev_id = e.hash or "", e.id
        by_seq[e.seq] = e.hash or ""
    last_seq = chained[-1].seq if chained else 0
    if head is None or head.seq != last_seq or head.hash != prev_hash:
        return bad(prev_id, f"the chain ends at {last_seq} but its head says "
                            f"{head.seq if head else '?'} (entries removed from the end)")
    cps = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    pem = public_pem or keys.public_pem()
    for cp in cps:
        if by_seq.get(cp.seq, GENESIS if cp.seq == 0 else None) != cp.hash:
            return bad(None, f"checkpoint at seq {cp.seq} does not match the chain")
        if not verify_signature(pem, checkpoint_message(cp.seq, cp.hash), cp.signature):
            return bad(None, f"checkpoint at seq {cp.seq} has a bad signature")
    return VerifyResult(True, len(rows), None, None, len(legacy), len(cps))


def checkpoint_message(seq: int, hash_: str) -> bytes:
    return f"rokuon-audit-checkpoint:{seq}:{hash_}".encode()


def checkpoint(session: Session) -> AuditCheckpoint:
    """Sign the current head (seq, hash) with the audit signing key."""
    keys = _keys(session)
    head = session.get(AuditHead, 1)
    seq, h = (head.seq, head.hash) if head else (0, GENESIS)
    cp = AuditCheckpoint(seq=seq, hash=h, signature=keys.sign(checkpoint_message(seq, h)),
                         key_id=keys.key_id())
    session.add(cp)
    return cp


def export_checkpoints(session: Session) -> dict[str, Any]:
    """What an outside party needs: the public key and the signed (seq, hash) pairs."""
    keys = _keys(session)
    cps = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    return {"public_key_pem": keys.public_pem().decode(),
            "checkpoints": [{"seq": c.seq, "hash": c.hash, "at": _ts(c.at),
                             "signature": c.signature} for c in cps]}


def verify_exported(doc: dict[str, Any], public_pem: bytes) -> list[int]:
    """Outside verification with the public key only: seqs of checkpoints that fail."""
    return [c["seq"] for c in doc["checkpoints"]
            if not verify_signature(public_pem, checkpoint_message(c["seq"], c["hash"]),
                                    c["signature"])]


def query(session: Session, *, since: datetime | None = None, actor: str | None = None,
          action: str | None = None, object_id: str | None = None,
          outcome: str | None = None, limit: int = 1000,
          before: int | None = None) -> list[AuditEntry]:
    """Newest first; ``before``: only entries older than that id (the next page)."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    if outcome:
        q = q.where(AuditEntry.outcome == outcome)
    return list(session.scalars(q))


FIELDS = ("id", "seq", "at", "actor", "action", "object_type", "object_id", "purpose",
          "source", "outcome", "detail", "hash")


def as_row(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "seq": e.seq, "at": _ts(e.at), "actor": e.actor, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "purpose": e.purpose,
            "source": e.source, "outcome": e.outcome, "detail": e.detail, "hash": e.hash}


def to_csv(entries: list[AuditEntry]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS)
    w.writeheader()
    for e in entries:
        row = as_row(e)
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)
        # neutralise spreadsheet formulas in free text (CSV injection)
        w.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v)
                    for k, v in row.items()})
    return buf.getvalue()
