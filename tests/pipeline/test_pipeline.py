"""The durable pipeline: states, retries, failures, crash and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.pipeline.executor import run_until_done
from rokuon.store.models import Call, PipelineEvent, PipelineJob, Transcript
from tests.conftest import ordinary_calls
from tests.helpers import tone_wav

CLI = Principal.cli()


def _shortest_call() -> Path:
    calls = ordinary_calls()
    if not calls:
        pytest.skip("labelled corpus not generated yet")
    return min(calls, key=lambda p: json.loads((p / "truth.json").read_text())["duration_s"])


def test_corrupted_blob_fails_after_retries_with_reason(rt, tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    p.write_bytes(tone_wav(2.0, seed=21))
    [res] = ingest_files(rt, [p], actor=CLI)
    with rt.db.session() as s:
        key = s.get(Call, res.call_id).blob_key
    blob = next(f for f in rt.settings.blob_dir.rglob("*") if f.is_file() and
                key.split("/")[1] in str(f))
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.write_bytes(bytes(raw))
    run_until_done(rt, [res.call_id], timeout_s=60)
    with rt.db.session() as s:
        call = s.get(Call, res.call_id)
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call.id)).one()
        assert call.status == "failed"
        assert call.status_reason.startswith("transcribe:")
        assert job.status == "failed" and job.attempts == rt.settings.max_attempts
        states = [e.state for e in s.scalars(select(PipelineEvent).where(
            PipelineEvent.call_id == call.id).order_by(PipelineEvent.id))]
        assert states[:2] == ["received", "stored"] and states[-1] == "failed"


@pytest.mark.slow
def test_stereo_call_goes_through_every_state(rt_asr) -> None:
    rt = rt_asr
    d = _shortest_call()
    truth = json.loads((d / "truth.json").read_text())
    [res] = ingest_files(rt, [d / "stereo.wav"], meta_path=d / "meta.json", actor=CLI)
    run_until_done(rt, [res.call_id], timeout_s=600)
    with rt.db.session() as s:
        call = s.get(Call, res.call_id)
        assert call.status == "indexed", call.status_reason
        states = [e.state for e in s.scalars(select(PipelineEvent).where(
            PipelineEvent.call_id == call.id).order_by(PipelineEvent.id))]
        assert states == ["received", "stored", "transcribed", "analyzed", "indexed"]
    from rokuon.calls.service import show_call

    with rt.db.session() as s:
        doc = show_call(s, CLI, res.call_id, "Asia/Tokyo")
    speakers = {seg["speaker"] for seg in doc["segments"]}
    assert speakers == {"agent", "customer"}
    # the first agent line is where the truth's first agent utterance is
    first_truth = next(u for u in truth["utterances"] if u["speaker"] == "agent")
    first = next(seg for seg in doc["segments"] if seg["speaker"] == "agent")
    assert abs(first["start"] - first_truth["start"]) < 1.0
    assert doc["analysis"]["metrics"]["agent_talk_s"] > 0
    # what produced the transcript is recorded with it (model hash, options, numerics)
    prov = doc["transcript"]["provenance"]
    from rokuon.engine.asr.model import PACKAGED_SHA256

    assert prov["model"]["sha256"] == PACKAGED_SHA256
    assert prov["decoding"]["temperatures"] == [0.0] and prov["decoding"]["beam_size"] == 5
    assert prov["numerics"]["requested"] == "AVX2" and prov["code"]["ctranslate2"]


def _wait_for(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@pytest.mark.slow
def test_kill_during_transcription_then_restart_gives_one_transcript(rt_asr) -> None:
    rt = rt_asr
    d = _shortest_call()
    [res] = ingest_files(rt, [d / "stereo.wav"], actor=CLI)
    env = {**os.environ, "ROKUON_JOB_LEASE_S": "2"}
    worker = subprocess.Popen([sys.executable, "-m", "rokuon.cli.main", "worker",
                               "--until-idle"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)

    def running() -> bool:
        with rt.db.session() as s:
            job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == res.call_id,
                                                      PipelineJob.step == "transcribe")).one()
            return job.status == "running"

    try:
        _wait_for(running)
        time.sleep(1.0)  # in the middle of loading the model / transcribing
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    with rt.db.session() as s:
        assert s.get(Call, res.call_id).status == "stored"
        assert s.scalar(select(func.count()).select_from(Transcript)) == 0
    rt.settings.job_lease_s = 2
    run_until_done(rt, [res.call_id], timeout_s=600)  # "start it again"
    with rt.db.session() as s:
        assert s.get(Call, res.call_id).status == "indexed"
        assert s.scalar(select(func.count()).select_from(Transcript).where(
            Transcript.call_id == res.call_id)) == 1
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == res.call_id,
                                                  PipelineJob.step == "transcribe")).one()
        assert job.attempts == 2
