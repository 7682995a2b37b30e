"""The four-eyes review of a disclosure package (開示パッケージの二者確認).

``draft`` records what the package would mask: per disclosed call, the detector's
third-party findings as *suggestions*. A second person with the compliance role (or an
administrator) — never the one who built the draft — accepts or rejects each
suggestion, adds spans the detector missed, and approves once nothing is left
undecided. Only an approved review is published: the package is built from exactly the
accepted spans. Every step is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.calls.document import call_document
from rokuon.compliance import dsar, package
from rokuon.runtime import Runtime
from rokuon.store.models import Call, utcnow
from rokuon.store.models_compliance import DisclosureReview

STATES = ("suggested", "accepted", "rejected")
MAX_NOTE = 2000


class ReviewError(ValueError):
    pass


def _int(v: int | str, what: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError) as exc:
        raise ReviewError(f"{what} {str(v)[:40]!r} not found") from exc


def _get(session: Session, review_id: int | str) -> DisclosureReview:
    rev = session.get(DisclosureReview, _int(review_id, "review"))
    if rev is None:
        raise ReviewError(f"review {review_id} not found")
    return rev


def _open_for(rev: DisclosureReview, principal: Principal, what: str) -> None:
    if rev.status != "draft":
        raise ReviewError(f"review {rev.id} is {rev.status}; only a draft can be {what}")
    if principal.name == rev.built_by:
        raise ReviewError(f"four-eyes rule: {principal.name} built review {rev.id} and cannot "
                          f"review it; a second compliance officer must")


def _span(f: dict[str, Any], sid: int, source: str, state: str, text: str = ""
          ) -> dict[str, Any]:
    return {"text": text[:200], "id": sid, "start": round(float(f["start"]), 3),
            "end": round(float(f["end"]), 3),
            "type": f.get("type") or "reviewer_span", "chars": f.get("chars") or [],
            "uncertain": bool(f.get("uncertain")), "source": source, "state": state,
            "note": f.get("note")}


def draft(rt: Runtime, principal: Principal, request_id: str, *, agent_voice: str = "mute"
          ) -> dict[str, Any]:
    """A new draft for the request (an earlier open draft is superseded)."""
    dsar._guard(principal)
    if agent_voice not in ("mute", "keep"):
        raise ReviewError("agent voice must be 'mute' or 'keep'")
    with rt.db.session() as s:
        req = dsar._get(s, request_id)
        if req.kind != "disclosure":
            raise ReviewError(f"request {request_id} is a {req.kind} request, not a disclosure")
        spans: dict[str, list[dict[str, Any]]] = {}
        for item in dsar.calls_of(s, request_id):
            call = s.get(Call, item.call_id)
            if (item.decision == "refuse" or call is None or call.wrapped_key is None
                    or call.quarantined_at is not None):
                continue
            doc = call_document(s, call, rt.settings.timezone, with_words=True)
            found = package.third_party_findings(doc, req.customer_name, rt.analysis_config)
            seen: set[str] = set()
            unique = []
            for f in found:  # the stored analysis and a fresh run often find the same
                key = repr((f.get("type"), f.get("chars"), f.get("start"), f.get("end")))
                if key not in seen:
                    seen.add(key)
                    unique.append(f)
            spans[call.id] = [_span(f, i, "detector", "suggested",
                                    package._finding_text(doc["segments"], f))
                              for i, f in enumerate(unique, start=1)]
        for old in s.scalars(select(DisclosureReview).where(
                DisclosureReview.request_id == request_id, DisclosureReview.status == "draft")):
            old.status = "superseded"
        rev = DisclosureReview(request_id=request_id, status="draft", agent_voice=agent_voice,
                               spans=spans, built_by=principal.name, built_at=utcnow())
        s.add(rev)
        s.flush()
        audit.record(s, principal, "request.review.draft", object_type="request",
                     object_id=request_id,
                     detail={"review": rev.id, "calls": sorted(spans),
                             "suggested": sum(len(v) for v in spans.values())})
        return describe(rev)


def _spans_of(rev: DisclosureReview, call_id: str) -> list[dict[str, Any]]:
    if call_id not in (rev.spans or {}):
        raise ReviewError(f"call {call_id} not found in review {rev.id}")
    return [dict(sp) for sp in rev.spans[call_id]]


def _store(rev: DisclosureReview, call_id: str, spans: list[dict[str, Any]]) -> None:
    rev.spans = {**rev.spans, call_id: spans}  # a new object: the JSON column sees the change


def set_state(session: Session, principal: Principal, review_id: int | str, call_id: str,
              span_id: int | str, state: str | None) -> dict[str, Any]:
    """Accept or reject (remove) one span of the draft."""
    dsar._guard(principal)
    if state not in ("accepted", "rejected"):
        raise ReviewError(f"a span is accepted or rejected; got {state!r}")
    rev = _get(session, review_id)
    _open_for(rev, principal, "changed")
    spans = _spans_of(rev, call_id)
    span_id = _int(span_id, "span")
    hit = [sp for sp in spans if sp["id"] == span_id]
    if not hit:
        raise ReviewError(f"span {span_id} of call {call_id} not found in review {review_id}")
    hit[0]["state"] = state
    _store(rev, call_id, spans)
    audit.record(session, principal, f"request.review.{state[:-2]}", object_type="request",
                 object_id=rev.request_id,
                 detail={"review": rev.id, "call_id": call_id, "span": span_id,
                         "type": hit[0]["type"], "start": hit[0]["start"]})
    return describe(rev)


def _chars_in(doc: dict[str, Any], start: float, end: float) -> list[list[int]]:
    """The transcript characters spoken in [start, end]: the overlapping words when the
    line has word timings, otherwise the whole overlapping line (fails toward masking)."""
    out: list[list[int]] = []
    for idx, seg in enumerate(doc["segments"]):
        if seg["end"] <= start or seg["start"] >= end:
            continue
        ranges: list[list[int]] | None = []
        pos = 0
        for w in seg.get("words") or []:
            at = seg["text"].find(w["text"], pos)
            if at < 0:  # words that do not spell the line: mask it all
                ranges = None
                break
            pos = at + len(w["text"])
            if w["end"] > start and w["start"] < end and ranges is not None:
                ranges.append([idx, at, pos])
        if ranges is None or not seg.get("words"):
            out.append([idx, 0, len(seg["text"])])
        else:
            out += ranges
    return out


def add_span(rt: Runtime, principal: Principal, review_id: int | str, call_id: str, *,
             start: float | None, end: float | None, note: str | None = None
             ) -> dict[str, Any]:
    """A span the detector missed: bleeped in the audio, its words masked."""
    dsar._guard(principal)
    if start is None or end is None:
        raise ReviewError("a span needs a start and an end (seconds)")
    if not (0 <= start < end):
        raise ReviewError(f"a span needs 0 <= start < end; got {start}–{end}")
    with rt.db.session() as s:
        rev = _get(s, review_id)
        _open_for(rev, principal, "changed")
        spans = _spans_of(rev, call_id)
        call = door.get_call(s, principal, call_id, action="call.disclose_review",
                             detail={"review": review_id, "start": start, "end": end})
        if call.duration_s and start >= call.duration_s:
            raise ReviewError(f"the call is {call.duration_s:.1f} s long; a span at "
                              f"{start} s is past its end")
        doc = call_document(s, call, rt.settings.timezone, with_words=True)
        sid = max((sp["id"] for sp in spans), default=0) + 1
        spans.append(_span({"start": start, "end": end, "type": "reviewer_span",
                            "chars": _chars_in(doc, start, end),
                            "note": (note or "")[:MAX_NOTE] or None},
                           sid, "reviewer", "accepted"))
        _store(rev, call_id, spans)
        audit.record(s, principal, "request.review.add", object_type="request",
                     object_id=rev.request_id,
                     detail={"review": rev.id, "call_id": call_id, "span": sid,
                             "start": start, "end": end, "note": note})
        return describe(rev)


def approve(session: Session, principal: Principal, review_id: int | str, *,
            note: str | None = None) -> dict[str, Any]:
    dsar._guard(principal)
    rev = _get(session, review_id)
    _open_for(rev, principal, "approved")
    open_ = [(cid, sp["id"]) for cid, spans in rev.spans.items() for sp in spans
             if sp["state"] == "suggested"]
    if open_:
        raise ReviewError(f"{len(open_)} suggested span(s) are neither accepted nor rejected "
                          f"(first: call {open_[0][0]} span {open_[0][1]})")
    rev.status, rev.reviewed_by, rev.reviewed_at = "approved", principal.name, utcnow()
    rev.note = (note or "")[:MAX_NOTE] or None
    audit.record(session, principal, "request.review.approve", object_type="request",
                 object_id=rev.request_id, detail={"review": rev.id, "note": rev.note})
    return describe(rev)


def accepted_spans(rev: DisclosureReview) -> dict[str, list[dict[str, Any]]]:
    return {cid: [sp for sp in spans if sp["state"] == "accepted"]
            for cid, spans in (rev.spans or {}).items()}


def latest(session: Session, request_id: str) -> DisclosureReview | None:
    return session.scalars(select(DisclosureReview).where(
        DisclosureReview.request_id == request_id, DisclosureReview.status != "superseded")
        .order_by(DisclosureReview.id.desc())).first()


def publish(rt: Runtime, principal: Principal, review_id: int | str, *, password: str,
            valid_days: int = 7) -> tuple[str, dict[str, Any]]:
    """Build the package from the approved review's accepted spans and publish it
    behind an expiring link: (token, handling record)."""
    dsar._guard(principal)
    with rt.db.session() as s:
        rev = _get(s, review_id)
        if rev.status != "approved":
            raise ReviewError(f"review {review_id} is {rev.status}; only an approved package "
                              f"is published")
        request_id, spans, voice = rev.request_id, accepted_spans(rev), rev.agent_voice
    blob, record = package.build(rt, principal, request_id, password=password,
                                 agent_voice=voice, spans=spans)
    token, exp = package.publish(rt, principal, request_id, blob, valid_days=valid_days)
    with rt.db.session() as s:
        rev = _get(s, review_id)
        rev.status, rev.export_id = "published", exp.id
        audit.record(s, principal, "request.review.publish", object_type="request",
                     object_id=request_id, detail={"review": review_id,
                                                   "sha256": record["sha256"]})
    record["expires_at"] = exp.expires_at.isoformat()
    return token, record


def describe(rev: DisclosureReview) -> dict[str, Any]:
    spans = rev.spans or {}
    return {"review_id": rev.id, "request_id": rev.request_id, "status": rev.status,
            "agent_voice": rev.agent_voice, "built_by": rev.built_by,
            "built_at": rev.built_at.isoformat() if rev.built_at else None,
            "reviewed_by": rev.reviewed_by,
            "reviewed_at": rev.reviewed_at.isoformat() if rev.reviewed_at else None,
            "note": rev.note,
            "undecided": sum(1 for v in spans.values() for sp in v
                             if sp["state"] == "suggested"),
            "calls": {cid: [{k: sp[k] for k in ("id", "start", "end", "type", "text",
                                                "source", "state", "uncertain", "note")}
                            for sp in v] for cid, v in spans.items()}}
