"""Test helpers: small real audio made in memory, and direct transcript writes."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from sqlalchemy import select

from rokuon.pipeline import jobs, steps
from rokuon.runtime import Runtime
from rokuon.store.models import JobStatus, PipelineJob, Segment, Transcript
from rokuon.text.normalize import normalize


def tone_wav(seconds: float = 1.0, *, sr: int = 8000, channels: int = 2,
             subtype: str = "ULAW", freq: float = 440.0, seed: int = 0) -> bytes:
    """A real WAV file (mu-law by default) with a tone on the left channel and
    noise on the right; ``seed`` makes distinct content."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    left = 0.3 * np.sin(2 * np.pi * (freq + seed) * t)
    cols = [left] + [0.05 * rng.standard_normal(len(t)) for _ in range(channels - 1)]
    buf = io.BytesIO()
    sf.write(buf, np.stack(cols, axis=1), sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def write_transcript(rt: Runtime, call_id: str, lines: list[tuple[str, float, float, str]]
                     ) -> None:
    """Store a transcript as the transcribe step would (for search/document tests that
    are about storage, not ASR), then run the real analyze and index steps."""
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call_id,
                                                  PipelineJob.step == "transcribe")).one()
        tr = Transcript(call_id=call_id, version=1, engine="test", model="none", language="ja",
                        job_id=job.id)
        s.add(tr)
        s.flush()
        for i, (speaker, start, end, text) in enumerate(lines):
            s.add(Segment(transcript_id=tr.id, call_id=call_id, idx=i, speaker=speaker,
                          channel=None, start=start, end=end, text=text,
                          norm_text=normalize(text), confidence=0.9, words=[]))
        job.status = JobStatus.RUNNING
        job.lease_owner = "test"
        jobs.complete(s, job, max_attempts=3)
    for step in ("analyze", "index"):
        with rt.db.session() as s:
            job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call_id,
                                                      PipelineJob.step == step)).one()
            job.status, job.lease_owner = JobStatus.RUNNING, "test"
        steps.STEP_FUNCTIONS[step](rt, job, "test")
