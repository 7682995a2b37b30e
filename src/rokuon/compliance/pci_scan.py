"""The archive-wide card-data leak scan and the PCI quarantine.

``scan`` reads every stored transcript row — every version of every call's transcript
(text, normalised text and word texts) and the search index's own rows where the
database keeps them apart (SQLite FTS5) — with the independent leak check
(``engine.analysis.pii.leaks``), never with the detector that did the masking. It
reports where (call, transcript version, line, field) and what kind, never the value,
and writes one audit row (``pci.scan``) with the counts.

``quarantined`` lists the calls PCI mode held back (masking failed or was unsure);
``release`` lets an administrator put a reviewed call back into search and playback
(audited; the call is indexed again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import Call, PipelineEvent, Segment, Transcript


class QuarantineError(ValueError):
    pass


@dataclass
class _Row:
    start: float
    end: float
    text: str


def _leaks_in(rows: list[_Row], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    from rokuon.engine.analysis.pii.leaks import scan as leak_scan

    return leak_scan(rows, cfg)


def _index_rows(s: Session) -> dict[int, str]:
    """segment id → the text the SQLite full-text index holds for it (PostgreSQL indexes
    the segments table itself, scanned already)."""
    from rokuon.store import search_index

    if not search_index._fts(s):
        return {}
    return {int(sid): str(t or "") for t, sid in s.execute(
        text("SELECT norm_text, segment_id FROM segments_fts"))}


def scan(s: Session, principal: Principal, cfg: dict[str, Any]) -> dict[str, Any]:
    """{"scanned": rows, "leaks": [{"call_id", "segment", "kind", "field", "version"}]}."""
    leaks: list[dict[str, Any]] = []
    scanned = 0
    index = _index_rows(s)
    transcripts = s.execute(select(Transcript.id, Transcript.call_id, Transcript.version)
                            .order_by(Transcript.call_id, Transcript.version)).all()
    for tr_id, call_id, version in transcripts:
        segs = s.scalars(select(Segment).where(Segment.transcript_id == tr_id)
                         .order_by(Segment.idx)).all()
        scanned += len(segs)
        fields = {
            "text": [_Row(g.start, g.end, g.text or "") for g in segs],
            "norm_text": [_Row(g.start, g.end, g.norm_text or "") for g in segs],
            "words": [_Row(g.start, g.end, "".join(str(w[0]) for w in g.words or []))
                      for g in segs],
        }
        if index:
            fields["index"] = [_Row(g.start, g.end, index.get(g.id, "")) for g in segs]
        seen: set[tuple[int, str]] = set()
        for name, rows in fields.items():
            for lk in _leaks_in(rows, cfg):
                key = (segs[lk["segment"]].idx, lk["kind"])
                if key in seen:
                    continue
                seen.add(key)
                leaks.append({"call_id": call_id, "segment": key[0], "kind": lk["kind"],
                              "field": name, "version": version})
    audit.record(s, principal, "pci.scan", detail={
        "scanned": scanned, "leaks": len(leaks),
        "calls": sorted({lk["call_id"] for lk in leaks})[:100]})
    return {"scanned": scanned, "leaks": leaks}


def quarantined(s: Session) -> list[dict[str, Any]]:
    rows = s.scalars(select(Call).where(Call.quarantined_at.is_not(None))
                     .order_by(Call.quarantined_at)).all()
    return [{"call_id": c.id, "quarantined_at": c.quarantined_at.isoformat()
             if c.quarantined_at else None, "reason": c.quarantine_reason} for c in rows]


def release(s: Session, principal: Principal, call_id: str, reason: str) -> Call:
    """Put a reviewed call back into search and playback (admins; audited)."""
    from rokuon.store import search_index

    if principal.role != "admin":
        raise QuarantineError("only an administrator releases a quarantined call")
    if not reason.strip():
        raise QuarantineError("say why the call can be released (--reason)")
    call = s.get(Call, call_id)
    if call is None or call.quarantined_at is None:
        raise QuarantineError(f"call {call_id} is not quarantined")
    was = call.quarantine_reason
    call.quarantined_at, call.quarantine_reason = None, None
    s.add(PipelineEvent(call_id=call_id, state=call.status, detail=f"released: {reason}"))
    current = s.scalars(select(Transcript.id).where(Transcript.call_id == call_id,
                                                    Transcript.is_current)).first()
    search_index.index_transcript(s, call_id, current)
    audit.record(s, principal, "call.quarantine_release", object_type="call",
                 object_id=call_id, detail={"reason": reason, "was": was})
    return call
