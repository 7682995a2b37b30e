"""The call document of CONTRACT.md, built from the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.compliance.purposes import consent_record
from rokuon.pipeline.steps import current_transcript
from rokuon.store.models import (
    AnalysisResult,
    Call,
    PipelineEvent,
    PipelineJob,
    Segment,
    TranscriptCorrection,
)


def iso(dt: datetime | None, tz: str) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # SQLite returns naive UTC
        dt = dt.replace(tzinfo=ZoneInfo("UTC"))
    return dt.astimezone(ZoneInfo(tz)).isoformat()


def latest_analysis(session: Session, call_id: str) -> dict[str, Any]:
    """Newest version of each analyzer's result (older versions stay in the DB)."""
    rows = session.scalars(
        select(AnalysisResult).where(AnalysisResult.call_id == call_id)
        .order_by(AnalysisResult.analyzer, AnalysisResult.version)
    ).all()
    out: dict[str, Any] = {}
    for r in rows:
        out[r.analyzer] = r.payload  # later versions overwrite earlier ones
    return out


def call_summary(call: Call, tz: str) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "started_at": iso(call.started_at, tz),
        "duration_s": call.duration_s,
        "agent": call.agent,
        "direction": call.direction,
        "status": call.status,
        "qa_score": call.qa_score,
    }


def call_document(session: Session, call: Call, tz: str, *, with_words: bool = False
                  ) -> dict[str, Any]:
    tr = current_transcript(session, call.id)
    segments: list[dict[str, Any]] = []
    if tr is not None:
        for seg in session.scalars(
            select(Segment).where(Segment.transcript_id == tr.id).order_by(Segment.idx)
        ):
            d: dict[str, Any] = {"speaker": seg.speaker, "start": seg.start, "end": seg.end,
                                 "text": seg.text, "confidence": round(seg.confidence, 3)}
            if seg.channel is not None:
                d["channel"] = seg.channel
            if seg.language:
                d["language"] = seg.language  # "en", or "und" (not intelligible)
            if with_words:
                d["words"] = [{"text": w[0], "start": w[1], "end": w[2], "probability": w[3]}
                              for w in seg.words]
            segments.append(d)
    jobs = session.scalars(select(PipelineJob).where(PipelineJob.call_id == call.id)
                           .order_by(PipelineJob.id)).all()
    events = session.scalars(select(PipelineEvent).where(PipelineEvent.call_id == call.id)
                             .order_by(PipelineEvent.id)).all()
    analysis = latest_analysis(session, call.id)
    if "qa" in analysis:  # the effective result: manual overrides applied, automatic beside
        from rokuon.coaching.overrides import effective_qa

        analysis["qa"] = effective_qa(session, call.id, analysis["qa"])
    from rokuon.coaching.comments import threads_of

    corrections = session.scalars(select(TranscriptCorrection).where(
        TranscriptCorrection.call_id == call.id).order_by(TranscriptCorrection.id)).all()
    return {
        **call_summary(call, tz),
        "status_reason": call.status_reason,
        "external_id": call.external_id,
        "customer_number": call.customer_number,
        "queue": call.queue,
        "purposes": call.purposes,
        "metadata": call.extra_metadata,
        "source": {"type": call.source, "file": call.original_filename,
                   "container": call.container, "codec": call.codec,
                   "sample_rate": call.sample_rate, "channels": call.channels,
                   "bytes": call.blob_size, "sha256": call.content_sha256},
        "parties": [{"role": p.role, "channel": p.channel, "name": p.name}
                    for p in call.parties],
        "transcript": None if tr is None else {
            "version": tr.version, "engine": tr.engine, "model": tr.model,
            "language": tr.language, "diarization": tr.diarization,
            "dropped": tr.dropped, "provenance": tr.provenance},
        "segments": segments,
        "analysis": analysis,
        "consent_record": consent_record(call.extra_metadata or {}, analysis),
        "use_stopped": None if call.use_stopped_at is None else {
            "at": iso(call.use_stopped_at, tz), "reason": call.use_stopped_reason},
        "corrections": [{"segment": c.segment_idx, "original": c.original_text,
                         "corrected": c.corrected_text, "note": c.note, "by": c.corrected_by,
                         "at": iso(c.corrected_at, tz)} for c in corrections],
        "redactions": call.redactions or [],
        "comments": [t.as_dict() for t in threads_of(session, call.id)],
        "quarantine": None if call.quarantined_at is None else {  # PCI: held for review
            "at": iso(call.quarantined_at, tz), "reason": call.quarantine_reason},
        "pipeline": {
            "jobs": [{"step": j.step, "status": j.status, "attempts": j.attempts,
                      "last_error": j.last_error} for j in jobs],
            "history": [{"state": e.state, "at": iso(e.at, tz), "detail": e.detail}
                        for e in events],
        },
    }
