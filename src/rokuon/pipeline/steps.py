"""The pipeline steps. Each step reads what it needs, computes outside any
transaction, then writes its results, the call's next state and the next job in
ONE transaction — so a crash anywhere means the step simply runs again, and its
effects (one transcript, one analysis row per version) happen exactly once."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from rokuon.engine import analysis
from rokuon.engine.types import AudioError, Word
from rokuon.engine.types import Segment as EngineSegment
from rokuon.engine.types import Transcript as EngineTranscript
from rokuon.pipeline import analysis_input, jobs, pci
from rokuon.reports import figures as report_figures
from rokuon.runtime import Runtime
from rokuon.store import search_index
from rokuon.store.models import AnalysisResult, Call, Party, PipelineJob, Segment, Transcript
from rokuon.text.normalize import normalize


class PermanentStepError(Exception):
    """Retrying will not help (e.g. the stored audio cannot be decoded)."""


class LeaseLostError(Exception):
    """Another worker took the job over; this worker's results are discarded."""


def _load_call(session: Session, call_id: str) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise PermanentStepError(f"call {call_id} no longer exists")
    if call.wrapped_key is None:
        raise PermanentStepError(f"call {call_id} was erased")
    return call


def current_transcript(session: Session, call_id: str) -> Transcript | None:
    return session.scalars(
        select(Transcript).where(Transcript.call_id == call_id, Transcript.is_current)
    ).first()


def engine_segments(session: Session, transcript_id: int) -> list[EngineSegment]:
    rows = session.scalars(
        select(Segment).where(Segment.transcript_id == transcript_id).order_by(Segment.idx)
    ).all()
    return [
        EngineSegment(
            speaker=r.speaker, start=r.start, end=r.end, text=r.text,
            words=[Word(*w) for w in r.words], confidence=r.confidence, channel=r.channel,
            language=r.language,
        )
        for r in rows
    ]


def transcribe(rt: Runtime, job: PipelineJob, worker: str) -> None:
    from rokuon.engine.audio.sandbox import decode

    with rt.db.session() as s:
        call = _load_call(s, job.call_id)
        roles = [p.role for p in sorted(call.parties, key=lambda p: p.channel or 0)
                 if p.channel is not None]
        blob_key, wrapped = call.blob_key, call.wrapped_key
        sha = call.blob_sha256 or call.content_sha256
    from rokuon.store.keys import WrappedKey

    data = rt.blobs.read_all(blob_key, WrappedKey.from_json(wrapped), expected_sha256=sha)
    try:
        audio = decode(io.BytesIO(data), rt.settings.decode_limits,
                       max_duration_s=rt.settings.max_duration_s)
    except AudioError as exc:
        raise PermanentStepError(f"stored audio cannot be decoded: {exc}") from exc
    result = rt.asr.transcribe(audio, roles if len(audio.channels) > 1 else [])
    del audio
    redaction = None
    if rt.settings.pci_mode:
        redaction = pci.redact(rt, job.call_id, blob_key, result.segments, data)
    del data
    if redaction is not None:
        result.segments = redaction.segments

    try:
        _store_transcript(rt, job, worker, result, redaction)
    except BaseException:
        if redaction is not None and redaction.blob is not None:
            rt.blobs.delete(redaction.blob.key)  # the new blob never became the call's
        raise
    if redaction is not None and redaction.blob is not None:
        rt.blobs.delete(redaction.old_blob_key)  # its data key left with the old row values


def _store_transcript(rt: Runtime, job: PipelineJob, worker: str, result: EngineTranscript,
                      redaction: pci.Redaction | None) -> None:
    with rt.db.session() as s:
        if not jobs.still_owned(s, job, worker):
            raise LeaseLostError(f"job {job.id} is no longer owned by {worker}")
        version = (s.scalar(select(func.max(Transcript.version))
                            .where(Transcript.call_id == job.call_id)) or 0) + 1
        s.execute(update(Transcript).where(Transcript.call_id == job.call_id)
                  .values(is_current=False))
        tr = Transcript(
            call_id=job.call_id, version=version, is_current=True, engine=result.engine,
            model=result.model, language=result.language, diarization=result.diarization,
            dropped=result.dropped, job_id=job.id, provenance=result.provenance,
            redactions=redaction.findings if redaction is not None else None,
            speech=None if result.speech is None else {
                role: [[round(s, 3), round(e, 3)] for s, e in spans]
                for role, spans in result.speech.items()},
        )
        s.add(tr)
        s.flush()
        for i, seg in enumerate(result.segments):
            s.add(Segment(
                transcript_id=tr.id, call_id=job.call_id, idx=i, speaker=seg.speaker,
                channel=seg.channel, start=round(seg.start, 3), end=round(seg.end, 3),
                text=seg.text, norm_text=normalize(seg.text), confidence=seg.confidence,
                words=[[w.text, round(w.start, 3), round(w.end, 3), round(w.probability, 3)]
                       for w in seg.words], language=seg.language,
            ))
        if result.diarization and not any(seg.channel is not None for seg in result.segments):
            _record_diarized_parties(s, job.call_id, result.segments)
        if redaction is not None:
            pci.apply_to_call(s, job.call_id, redaction)
        jobs.complete(s, job, max_attempts=rt.settings.max_attempts)


def _record_diarized_parties(s: Session, call_id: str, segments: list[EngineSegment]) -> None:
    s.execute(delete(Party).where(Party.call_id == call_id, Party.channel.is_(None)))
    for role in sorted({seg.speaker for seg in segments}):
        s.add(Party(call_id=call_id, role=role, channel=None))


def json_safe(value: Any) -> Any:
    """NaN and ±Infinity (which PostgreSQL's JSON rejects and which mean "no value"
    here) become None, everywhere in a result."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def analyze(rt: Runtime, job: PipelineJob, worker: str) -> None:
    with rt.db.session() as s:
        call = _load_call(s, job.call_id)
        tr = current_transcript(s, job.call_id)
        if tr is None:
            raise PermanentStepError("no transcript to analyze")
        segments = engine_segments(s, tr.id)
        tr_id, known_pii = tr.id, list(tr.redactions or [])
        inp = analysis_input.build(rt, call, segments, language=tr.language,
                                   speech=tr.speech)
        from rokuon.scorecards.versions import effective_config

        cfg = effective_config(s, rt.analysis_config)  # the newest scorecard versions
    results = analysis.run_all(inp, cfg)
    del inp
    if known_pii and "pii" in results:  # PCI findings masked before storage stay listed
        version, found = results["pii"]
        if isinstance(found, list):
            results["pii"] = (version, sorted(known_pii + found, key=lambda f: f["start"]))
    with rt.db.session() as s:
        if not jobs.still_owned(s, job, worker):
            raise LeaseLostError(f"job {job.id} is no longer owned by {worker}")
        for name, (version, payload) in results.items():
            payload = json_safe(payload)
            existing = s.scalars(select(AnalysisResult).where(
                AnalysisResult.call_id == job.call_id, AnalysisResult.analyzer == name,
                AnalysisResult.version == version)).first()
            if existing is None:
                s.add(AnalysisResult(call_id=job.call_id, analyzer=name, version=version,
                                     transcript_id=tr_id, payload=payload))
            else:
                existing.payload, existing.transcript_id = payload, tr_id
        from rokuon.coaching.overrides import effective_qa

        # a supervisor's overrides still hold after the call is analysed again
        qa = effective_qa(s, job.call_id, json_safe(results.get("qa", (0, None))[1]))
        call = s.get(Call, job.call_id)
        if call is not None:
            call.qa_score = qa.get("score") if isinstance(qa, dict) else None
            figures = {n: json_safe(p) for n, (_, p) in results.items()}
            if "qa" in figures:
                figures["qa"] = qa
            report_figures.store(s, job.call_id, figures)
        from rokuon.integrations.webhooks import emit_call_analyzed

        emit_call_analyzed(s, call, results)  # in this transaction (outbox)
        jobs.complete(s, job, max_attempts=rt.settings.max_attempts)


def index(rt: Runtime, job: PipelineJob, worker: str) -> None:
    with rt.db.session() as s:
        if not jobs.still_owned(s, job, worker):
            raise LeaseLostError(f"job {job.id} is no longer owned by {worker}")
        tr = current_transcript(s, job.call_id)
        call = s.get(Call, job.call_id)
        held = call is not None and call.quarantined_at is not None  # PCI quarantine
        search_index.index_transcript(s, job.call_id, tr.id if tr and not held else None)
        jobs.complete(s, job, max_attempts=rt.settings.max_attempts)


STEP_FUNCTIONS: dict[str, Callable[[Runtime, PipelineJob, str], None]] = {
    "transcribe": transcribe,
    "analyze": analyze,
    "index": index,
}
