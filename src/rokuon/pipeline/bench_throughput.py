"""``rokuon bench throughput``: calls/hour with 1, 2… worker processes on this machine,
queue latency and where the time goes (docs/scale.md has the measured numbers).

For each process count it makes a fresh installation in a temporary folder (SQLite, or
a database URL given), imports the recordings while no worker runs, starts that many
``rokuon worker`` processes (Celery workers on ``broker_url`` when one is given, else
in-process workers polling the job table) and measures until every call is indexed.
Queue latency: with the workers idle and warm, one more recording is imported (and
announced, as the web server does) and the time until its transcription is claimed
is measured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.store.models import Call, CallStatus, JobStatus, PipelineEvent, PipelineJob

STEP_STATES = (("transcribe", "stored", "transcribed"), ("analyze", "transcribed", "analyzed"),
               ("index", "analyzed", "indexed"))


def _env(home: Path, broker: str, database_url: str | None, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROKUON_")}
    for k in ("ROKUON_MODELS_PATH", "ROKUON_ASR_MODEL"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(ROKUON_HOME=str(home), ROKUON_JOB_POLL_S="0.1", ROKUON_BROKER_SWEEP_S="2",
               ROKUON_BROKER_QUEUE_PREFIX=prefix, PYTHONUNBUFFERED="1")
    if broker:
        env["ROKUON_BROKER_URL"] = broker
    if database_url:
        env["ROKUON_DATABASE_URL"] = database_url
    return env


def _settings(env: dict[str, str]):  # type: ignore[no-untyped-def]
    from rokuon.config import load_settings

    saved = {k: os.environ.get(k) for k in env if k.startswith("ROKUON_")}
    for k in [k for k in os.environ if k.startswith("ROKUON_")]:
        saved.setdefault(k, os.environ[k])
        del os.environ[k]
    os.environ.update({k: v for k, v in env.items() if k.startswith("ROKUON_")})
    try:
        return load_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wait_until(cond: Any, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{what} after {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - start


def _states(rt: Any) -> list[str]:
    with rt.db.session() as s:
        return list(s.scalars(select(Call.status)))


def _step_seconds(rt: Any) -> dict[str, float]:
    """Mean seconds from the previous state to each step's state, per call."""
    with rt.db.session() as s:
        events = s.execute(select(PipelineEvent.call_id, PipelineEvent.state, PipelineEvent.at)
                           .where(PipelineEvent.detail.is_(None))).all()
    at: dict[tuple[str, str], Any] = {(c, st): t for c, st, t in events}
    out: dict[str, float] = {}
    calls = {c for c, _, _ in events}
    for step, before, after in STEP_STATES:
        spans = [(at[(c, after)] - at[(c, before)]).total_seconds() for c in calls
                 if (c, before) in at and (c, after) in at]
        out[step] = round(sum(spans) / len(spans), 2) if spans else 0.0
    return out


def _run_once(files: list[Path], latency_file: Path, processes: int, *, broker: str,
              database_url: str | None, timeout_s: float) -> dict[str, Any]:
    from rokuon.calls.ingest import ingest_files
    from rokuon.install import init_installation
    from rokuon.runtime import Runtime

    actor = Principal.cli()
    with tempfile.TemporaryDirectory(prefix="rokuon-bench-") as tmp:
        env = _env(Path(tmp) / "home", broker, database_url, f"bench{uuid.uuid4().hex[:8]}")
        init_installation(_settings(env), "admin@localhost")
        rt = Runtime(_settings(env))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ids = [r.call_id for r in ingest_files(rt, files, actor=actor) if r.call_id]
            args = ["--concurrency", "1"]
            if broker:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "rokuon.cli.main", "worker", "--beat-only"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True))
            started = time.monotonic()
            for _ in range(processes):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "rokuon.cli.main", "worker", *args], env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True))
            if broker:
                from rokuon.pipeline.celery_executor import CeleryExecutor

                CeleryExecutor(rt).notify()

            def done() -> bool:
                st = _states(rt)
                if CallStatus.FAILED in st:
                    raise RuntimeError("a call failed during the benchmark")
                return len(st) == len(ids) and all(x == CallStatus.INDEXED for x in st)

            wall = _wait_until(done, timeout_s, "calls not indexed")
            steps = _step_seconds(rt)
            audio_s = 0.0
            with rt.db.session() as s:
                audio_s = sum(c.duration_s or 0.0 for c in s.scalars(select(Call)))
            # queue latency: idle, warm workers; one more call, announced as the web does
            t0 = time.monotonic()
            [res] = ingest_files(rt, [latency_file], actor=actor)
            if broker:
                CeleryExecutor(rt).notify()

            def claimed() -> bool:
                with rt.db.session() as s:
                    return s.scalar(select(PipelineJob.status).where(
                        PipelineJob.call_id == res.call_id,
                        PipelineJob.step == "transcribe")) != JobStatus.PENDING

            _wait_until(claimed, 60, "the new call was not claimed")
            latency = time.monotonic() - t0
        finally:
            for p in procs:
                with suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)
            if broker:  # leave no message of this run's queues on the broker
                from rokuon.pipeline import celery_app

                with suppress(Exception), celery_app.celery.connection_for_write() as conn:
                    for q in celery_app.QUEUE_STEPS:
                        conn.default_channel.queue_purge(celery_app.queue_name(rt.settings, q))
                        conn.default_channel.queue_delete(
                            celery_app.queue_name(rt.settings, q))
            rt.close()
    return {"processes": processes, "calls": len(ids), "audio_s": round(audio_s, 1),
            "wall_s": round(wall, 1), "calls_per_hour": round(len(ids) / wall * 3600, 1),
            "audio_hours_per_hour": round(audio_s / wall, 2),
            "queue_latency_s": round(latency, 3), "step_s": steps,
            "since_start_s": round(time.monotonic() - started, 1)}


def run_throughput(files: list[Path], processes: list[int], *, broker: str = "",
                   database_url: str | None = None,
                   timeout_s: float = 1800.0) -> dict[str, Any]:
    if len(files) < 2:
        raise ValueError("give at least two recordings (one more is used for latency)")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"no such file: {', '.join(missing)}")
    *batch, latency_file = files
    runs = [_run_once(batch, latency_file, n, broker=broker, database_url=database_url,
                      timeout_s=timeout_s) for n in processes]
    return {"engine": "celery" if broker else "embedded", "cores": os.cpu_count(),
            "runs": runs}
