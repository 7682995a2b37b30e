"""CDR import and reconciliation: every answered call has a recording, every recording
has a call.

``import_file`` stores a parsed CDR file all-or-nothing, idempotent on the record's id
(Asterisk ``uniqueid``, FreeSWITCH ``uuid``, Twilio ``CallSid``): the same record again
is ``unchanged``, a changed one (a Twilio call that finished since) is ``updated``.

``reconcile`` matches CDRs to recordings: first by id (the call's ``external_id`` or an
id key in its metadata equals a CDR's id or its linked/parent/b-leg id), then by the
customer number (digits, ``+81…`` read as ``0…``) and the start time (within
``tolerance_s`` of the CDR's start or answer) with the duration within 10 % (at least
2 s: CDR seconds are whole) of the CDR's billsec or duration — closest first, one to
one. Legs of one call (Asterisk ``linkedid``, FreeSWITCH ``bleg_uuid``, Twilio
``parent_call_sid``) count as one call: a recording of any leg covers it."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit, permissions
from rokuon.access.principal import Principal
from rokuon.cdr.formats import SOURCE, CdrFormatError, parse
from rokuon.store.models import Call, CdrImport, CdrReconcileRun, CdrRecord, utcnow

log = logging.getLogger(__name__)

TIME_TOLERANCE_S = 120.0
DURATION_TOLERANCE = 0.10
DURATION_FLOOR_S = 2.0
DAILY_DAYS = 2  # the daily run checks the two days before today
ID_KEYS = ("uniqueid", "unique_id", "linkedid", "uuid", "call_uuid", "call_sid", "callsid",
           "CallSid", "cdr_id")
_FIELDS = ("related_id", "started_at", "answered_at", "ended_at", "duration_s", "billsec",
           "disposition", "raw_status", "src", "dst", "direction", "channel", "dst_channel",
           "queue", "account")
DETAIL_CAP = 1000


class CdrError(ValueError):
    """A refused CDR action (bad input, nothing to reconcile); one line."""


def _require(principal: Principal, action: str) -> None:
    try:
        permissions.require(principal, action)
    except permissions.Forbidden as exc:
        raise CdrError(str(exc)) from None


# --- import ------------------------------------------------------------------------


def import_file(s: Session, principal: Principal, data: bytes, *, name: str, fmt: str,
                tz: str, encoding: str = "utf-8", allow_unknown: bool = False
                ) -> dict[str, Any]:
    """Parse and store one CDR file (all or nothing). Raises CdrError naming the file,
    row and field; nothing is stored then."""
    _require(principal, "admin")
    try:
        parsed = parse(data, fmt, name=name, tz=tz, encoding=encoding,
                       allow_unknown=allow_unknown)
    except CdrFormatError as exc:
        raise CdrError(str(exc)) from None
    source = SOURCE[fmt]
    existing: dict[str, CdrRecord] = {}
    ids = [r.unique_id for r in parsed.rows]
    for i in range(0, len(ids), 500):
        for rec in s.scalars(select(CdrRecord).where(CdrRecord.source == source,
                                                     CdrRecord.unique_id.in_(ids[i:i + 500]))):
            existing[rec.unique_id] = rec
    imp = CdrImport(file_name=name[:500], format=fmt, sha256=hashlib.sha256(data).hexdigest(),
                    rows=len(parsed.rows) + len(parsed.skipped), imported_by=principal.name,
                    skipped=len(parsed.skipped))
    s.add(imp)
    s.flush()
    inserted = updated = unchanged = 0
    for r in parsed.rows:
        vals = r.values()
        rec = existing.get(r.unique_id)
        if rec is None:
            s.add(CdrRecord(**vals, import_id=imp.id))
            inserted += 1
        elif any(_same(getattr(rec, f), vals[f]) is False for f in _FIELDS):
            for f in _FIELDS:
                setattr(rec, f, vals[f])
            rec.import_id, rec.imported_at = imp.id, utcnow()
            updated += 1
        else:
            unchanged += 1
    imp.inserted, imp.updated, imp.unchanged = inserted, updated, unchanged
    res = {"import_id": imp.id, "file": name, "format": fmt, "rows": imp.rows,
           "inserted": inserted, "updated": updated, "unchanged": unchanged,
           "skipped": parsed.skipped}
    audit.record(s, principal, "cdr.import", object_type="cdr_import", object_id=str(imp.id),
                 detail={k: v for k, v in res.items() if k != "skipped"}
                 | {"skipped": len(parsed.skipped), "sha256": imp.sha256})
    return res


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return (a or None) == (b or None)


def audit_failure(s: Session, principal: Principal, action: str, reason: str,
                  **detail: Any) -> None:
    """A refused import or reconciliation leaves its trace in the audit log."""
    audit.record(s, principal, action, outcome="failed", detail={"reason": reason, **detail})


# --- reconcile ---------------------------------------------------------------------


def national_digits(number: str | None) -> str:
    """Digits of a phone number; a Japanese E.164 number (+81 3…) as dialled (03…)."""
    if not number:
        return ""
    s = unicodedata.normalize("NFKC", number).strip()
    digits = re.sub(r"\D", "", s)
    if s.startswith("+81") or digits.startswith("0081"):
        return "0" + digits[(2 if s.startswith("+") else 4):]
    if digits.startswith("81") and len(digits) in (11, 12):
        return "0" + digits[2:]
    return digits


def mask_number(number: str | None) -> str | None:
    """All but the last 4 digits hidden (for roles that see no call data)."""
    if not number:
        return number
    keep = 4
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    hide = set(digits[:-keep]) if len(digits) > keep else set()
    return "".join("*" if i in hide else ch for i, ch in enumerate(number))


def _number_key(digits: str) -> str:
    """Two numbers are the same when their keys are: all digits, or the last 9 when
    both have at least 9 (a trunk prefix such as 0 or 00 differs)."""
    return digits[-9:] if len(digits) >= 9 else digits


def _bounds(since: date | None, until: date | None, tz: str,
            s: Session) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    if since is None or until is None:
        lo, hi = s.execute(select(func.min(CdrRecord.started_at),
                                  func.max(CdrRecord.started_at))).one()
        if lo is None:
            raise CdrError("no CDRs imported yet (rokuon cdr import FILE --format …)")
        lo, hi = _aware(lo), _aware(hi)
    start = datetime.combine(since, time.min, tzinfo=zone) if since else lo
    end = datetime.combine(until, time.max, tzinfo=zone) if until else hi
    if end < start:
        raise CdrError("--until is before --since")
    return start, end


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))


@dataclass
class _Group:
    root: str
    cdrs: list[CdrRecord]
    matched: bool = False


def _groups(cdrs: list[CdrRecord]) -> dict[int, _Group]:
    """CDR id → its call (legs joined by linkedid / bleg_uuid / parent_call_sid)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in cdrs:
        a = find(f"{c.source}:{c.unique_id}")
        if c.related_id:
            b = find(f"{c.source}:{c.related_id}")
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, _Group] = {}
    out: dict[int, _Group] = {}
    for c in cdrs:
        root = find(f"{c.source}:{c.unique_id}")
        g = groups.setdefault(root, _Group(root, []))
        g.cdrs.append(c)
        out[c.id] = g
    return out


def _call_ids(call: Call) -> set[str]:
    ids = {call.external_id} if call.external_id else set()
    extra = call.extra_metadata or {}
    for k in ID_KEYS:
        v = extra.get(k)
        if isinstance(v, str | int) and str(v).strip():
            ids.add(str(v).strip())
    return ids


def _duration_ok(rec_s: float, c: CdrRecord, tol: float) -> bool:
    if not rec_s:
        return True  # a recording of unknown length (not decoded)
    for ref in (c.billsec, c.duration_s):
        if ref and abs(rec_s - ref) <= max(tol * ref, DURATION_FLOOR_S):
            return True
    return False


def _time_gap(call_at: datetime, c: CdrRecord) -> float:
    gaps = [abs((call_at - _aware(c.started_at)).total_seconds())]
    if c.answered_at is not None:
        gaps.append(abs((call_at - _aware(c.answered_at)).total_seconds()))
    return min(gaps)


def cdr_doc(c: CdrRecord, tz: str, legs: int = 1) -> dict[str, Any]:
    zone = ZoneInfo(tz)

    def iso(at: datetime | None) -> str | None:
        return _aware(at).astimezone(zone).isoformat() if at else None

    return {"source": c.source, "unique_id": c.unique_id, "related_id": c.related_id,
            "started_at": iso(c.started_at), "answered_at": iso(c.answered_at),
            "ended_at": iso(c.ended_at), "duration_s": c.duration_s, "billsec": c.billsec,
            "disposition": c.disposition, "src": c.src, "dst": c.dst,
            "direction": c.direction, "channel": c.channel, "dst_channel": c.dst_channel,
            "queue": c.queue, "legs": legs}


def _call_doc(c: Call, tz: str, why: str) -> dict[str, Any]:
    zone = ZoneInfo(tz)
    return {"call_id": c.id,
            "started_at": _aware(c.started_at).astimezone(zone).isoformat()
            if c.started_at else None,
            "imported_at": _aware(c.created_at).astimezone(zone).isoformat(),
            "duration_s": round(c.duration_s or 0.0, 1), "external_id": c.external_id,
            "customer_number": c.customer_number, "agent": c.agent, "queue": c.queue,
            "direction": c.direction, "status": c.status, "why": why}


def reconcile(s: Session, principal: Principal, *, tz: str, since: date | None = None,
              until: date | None = None, tolerance_s: float = TIME_TOLERANCE_S,
              duration_tolerance: float = DURATION_TOLERANCE, min_billsec: int = 0
              ) -> dict[str, Any]:
    """The reconciliation report (see the module doc); stored as a run and audited.
    Without since/until the period is the time the imported CDRs cover."""
    _require(principal, "audit")
    start, end = _bounds(since, until, tz, s)
    margin = timedelta(days=1)
    cdrs = list(s.scalars(select(CdrRecord).where(
        CdrRecord.started_at >= start - margin, CdrRecord.started_at <= end + margin)
        .order_by(CdrRecord.started_at, CdrRecord.id)))
    calls = list(s.scalars(select(Call).where(or_(
        Call.started_at.between(start - margin, end + margin),
        Call.started_at.is_(None) & Call.created_at.between(start - margin, end + margin)))
        .order_by(Call.started_at, Call.id)))
    group_of = _groups(cdrs)
    by_id: dict[str, list[CdrRecord]] = {}
    for c in cdrs:
        by_id.setdefault(c.unique_id, []).append(c)
        if c.related_id:
            by_id.setdefault(c.related_id, []).append(c)
    used: set[int] = set()
    match_of: dict[str, tuple[CdrRecord, str]] = {}
    for call in calls:  # 1. by id
        hits = [c for i in sorted(_call_ids(call)) for c in by_id.get(i, [])]
        exact = [c for c in hits if c.unique_id in _call_ids(call)]
        for c in exact + [c for c in hits if c.disposition == "ANSWERED"] + hits:
            if c.id not in used:
                used.add(c.id)
                match_of[call.id] = (c, "id")
                break
        else:
            if hits:  # every leg taken: the recording still belongs to that call
                match_of[call.id] = (hits[0], "id")
    pairs: list[tuple[float, str, int]] = []  # 2. by number + time + duration
    cdr_by_pk = {c.id: c for c in cdrs}
    by_number: dict[str, list[CdrRecord]] = {}
    for c in cdrs:
        for key in {_number_key(national_digits(c.src)), _number_key(national_digits(c.dst))}:
            if key:
                by_number.setdefault(key, []).append(c)
    for call in calls:
        digits = national_digits(call.customer_number)
        if call.id in match_of or not digits or call.started_at is None:
            continue
        at = _aware(call.started_at)
        for c in by_number.get(_number_key(digits), []):
            if c.id in used:
                continue
            gap = _time_gap(at, c)
            if gap <= tolerance_s and _duration_ok(call.duration_s or 0.0, c,
                                                    duration_tolerance):
                pairs.append((gap, call.id, c.id))
    for _gap, call_id, cdr_pk in sorted(pairs):
        if call_id not in match_of and cdr_pk not in used:
            used.add(cdr_pk)
            match_of[call_id] = (cdr_by_pk[cdr_pk], "number_time")
    for c, _how in match_of.values():
        group_of[c.id].matched = True

    def inside(at: datetime | None) -> bool:
        return at is not None and start <= _aware(at) <= end

    matched = [(cid, c, how) for cid, (c, how) in match_of.items() if inside(c.started_at)]
    missing: list[dict[str, Any]] = []
    seen_groups: set[str] = set()
    for c in cdrs:
        g = group_of[c.id]
        if (g.root in seen_groups or g.matched or c.disposition != "ANSWERED"
                or c.billsec < min_billsec or not inside(c.started_at)):
            continue
        seen_groups.add(g.root)
        missing.append(cdr_doc(c, tz, len(g.cdrs)))
    without: list[dict[str, Any]] = []
    for call in calls:
        if call.id in match_of or not inside(call.started_at or call.created_at):
            continue
        why = ("no start time and no CDR id in its metadata" if call.started_at is None
               and not _call_ids(call) else "no customer number and no CDR id"
               if not call.customer_number and not _call_ids(call)
               else "no CDR with its id, number and time")
        without.append(_call_doc(call, tz, why))
    if not permissions.allowed(principal, "read"):  # auditors: no personal data
        for m in missing:
            m["src"], m["dst"] = mask_number(m["src"]), mask_number(m["dst"])
        for w in without:
            w["customer_number"] = mask_number(w["customer_number"])
    zone = ZoneInfo(tz)
    report = {
        "period": {"since": start.astimezone(zone).isoformat(),
                   "until": end.astimezone(zone).isoformat(), "timezone": tz},
        "cdrs": sum(1 for c in cdrs if inside(c.started_at)),
        "recordings": sum(1 for c in calls if inside(c.started_at or c.created_at)),
        "matched": len(matched),
        "matched_by": {"id": sum(1 for m in matched if m[2] == "id"),
                       "number_time": sum(1 for m in matched if m[2] == "number_time")},
        "missing_recordings": missing,
        "recordings_without_cdr": without,
        "tolerance": {"time_s": tolerance_s, "duration": duration_tolerance,
                      "min_billsec": min_billsec},
    }
    run = CdrReconcileRun(ran_by=principal.name, period_from=start, period_to=end,
                          matched=len(matched), missing_recordings=len(missing),
                          recordings_without_cdr=len(without),
                          detail={"missing": [m["unique_id"] for m in missing][:DETAIL_CAP],
                                  "without_cdr": [w["call_id"] for w in without][:DETAIL_CAP]})
    s.add(run)
    s.flush()
    report["run_id"] = run.id
    audit.record(s, principal, "cdr.reconcile", object_type="cdr_run", object_id=str(run.id),
                 detail={"since": report["period"]["since"], "until": report["period"]["until"],
                         "matched": len(matched), "missing_recordings": len(missing),
                         "recordings_without_cdr": len(without)})
    return report


def list_cdrs(s: Session, principal: Principal, *, tz: str, since: date | None = None,
              until: date | None = None, disposition: str | None = None,
              limit: int = 500) -> list[dict[str, Any]]:
    _require(principal, "audit")
    zone = ZoneInfo(tz)
    q = select(CdrRecord)
    if since:
        q = q.where(CdrRecord.started_at >= datetime.combine(since, time.min, tzinfo=zone))
    if until:
        q = q.where(CdrRecord.started_at <= datetime.combine(until, time.max, tzinfo=zone))
    if disposition:
        q = q.where(CdrRecord.disposition == disposition.upper())
    rows = [cdr_doc(c, tz) for c in s.scalars(q.order_by(CdrRecord.started_at).limit(limit))]
    if not permissions.allowed(principal, "read"):
        for r in rows:
            r["src"], r["dst"] = mask_number(r["src"]), mask_number(r["dst"])
    audit.record(s, principal, "cdr.list", detail={"rows": len(rows)})
    return rows


def runs(s: Session, principal: Principal, *, tz: str, limit: int = 30) -> list[dict[str, Any]]:
    _require(principal, "audit")
    zone = ZoneInfo(tz)
    out = [{"run_id": r.id, "ran_at": _aware(r.ran_at).astimezone(zone).isoformat(),
            "ran_by": r.ran_by,
            "since": _aware(r.period_from).astimezone(zone).isoformat()
            if r.period_from else None,
            "until": _aware(r.period_to).astimezone(zone).isoformat() if r.period_to else None,
            "matched": r.matched, "missing_recordings": r.missing_recordings,
            "recordings_without_cdr": r.recordings_without_cdr, "detail": r.detail}
           for r in s.scalars(select(CdrReconcileRun).order_by(CdrReconcileRun.id.desc())
                              .limit(limit))]
    audit.record(s, principal, "cdr.runs", detail={"rows": len(out)})
    return out


def scheduled_reconcile(rt: Any, today: date | None = None) -> dict[str, Any] | None:
    """The daily run inside ``rokuon serve`` (with retention): the ``DAILY_DAYS`` days
    before today, only when CDRs are imported at all. Logs a warning per finding."""
    tz = rt.settings.timezone
    actor = Principal(name="cdr-scheduler", role="admin", source="serve")
    today = today or datetime.now(ZoneInfo(tz)).date()
    with rt.db.session() as s:
        if s.scalar(select(func.count()).select_from(CdrRecord)) == 0:
            return None
        rep = reconcile(s, actor, tz=tz, since=today - timedelta(days=DAILY_DAYS),
                        until=today - timedelta(days=1))
    if rep["missing_recordings"] or rep["recordings_without_cdr"]:
        log.warning("CDR reconciliation %s..%s: %d answered call(s) without a recording, "
                    "%d recording(s) without a CDR (rokuon cdr runs)",
                    rep["period"]["since"][:10], rep["period"]["until"][:10],
                    len(rep["missing_recordings"]), len(rep["recordings_without_cdr"]))
    return rep
