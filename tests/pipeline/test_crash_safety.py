"""Crash safety, proven with real processes: ``rokuon serve`` is killed with SIGKILL while
calls are being transcribed and started again; every call then ends analysed and indexed
exactly once, with no duplicate row, no orphan blob and no job left to a dead worker.
The same on PostgreSQL, where the database also drops every connection of a running
server. And ``rokuon ingest`` killed while a recording streams into the blob store
leaves a complete call or nothing.

Each test runs on SQLite, or on its own fresh PostgreSQL database (created and dropped
here) when ROKUON_TEST_DATABASE_URL is set."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from rokuon.config import load_settings
from rokuon.runtime import Runtime
from rokuon.store.models import (
    AnalysisResult,
    Call,
    JobStatus,
    PipelineEvent,
    PipelineJob,
    Segment,
    Transcript,
)
from tests.conftest import CALLS, PG_URL

pytestmark = pytest.mark.slow

# the three shortest two-party calls of the corpus (about 25 s each)
CORPUS = ("03_outbound_no_announcement", "15_consent_no", "12_two_female_delivery")
FINISH_TIMEOUT_S = 900.0
LEASE_S = 60.0  # the default lease: a restart must not wait for it
TEST_APP = "rokuon-crash-test"


# -- an installation on its own database --------------------------------------------------


def _pg_admin_url() -> str:
    assert PG_URL
    return PG_URL


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def _with_query(url: str, **query: str) -> str:
    u = sa.engine.make_url(url)
    return u.update_query_dict(query).render_as_string(hide_password=False)


@pytest.fixture
def fresh_database() -> Iterator[str | None]:
    """None on SQLite; else the URL of a new PostgreSQL database, dropped afterwards."""
    if not PG_URL:
        yield None
        return
    name = f"rokuon_crash_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {sa.engine.make_url(PG_URL).host}: "
                    f"{str(exc.orig).splitlines()[0]}")
    url = _with_database(_pg_admin_url(), name)
    db = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with db.connect() as c:
        c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Site:
    """An initialised installation the test drives through real processes."""

    home: Path
    env: dict[str, str]
    rt: Runtime
    database_url: str | None
    logs: list[Path] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rokuon.cli.main", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def log_tail(self, n: int = 40) -> str:
        out = []
        for p in self.logs:
            lines = p.read_text(errors="replace").splitlines()
            out.append(f"--- {p.name} ---\n" + "\n".join(lines[-n:]))
        return "\n".join(out)


@pytest.fixture
def site(tmp_path: Path, models_dir: Path, fresh_database: str | None,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from rokuon.install import init_installation

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROKUON_")}
    env.update(ROKUON_HOME=str(home), ROKUON_MODELS_PATH=str(models_dir),
               ROKUON_JOB_POLL_S="0.1", PYTHONUNBUFFERED="1")
    if fresh_database:
        env["ROKUON_DATABASE_URL"] = fresh_database
    for k in [k for k in os.environ if k.startswith("ROKUON_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        if k.startswith("ROKUON_"):
            monkeypatch.setenv(k, v)
    init_installation(load_settings(), "admin@example.com")
    settings = load_settings()
    if fresh_database:  # the test's own connections are named, so it spares them
        settings = settings.model_copy(update={"database_url": _with_query(
            fresh_database, application_name=TEST_APP)})
    rt = Runtime(settings)
    assert rt.settings.job_lease_s == LEASE_S
    yield Site(home=home, env=env, rt=rt, database_url=fresh_database)
    rt.close()


class Server:
    """``rokuon serve`` in its own process group (so SIGKILL takes every child too)."""

    def __init__(self, site: Site, name: str, workers: int = 2) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = site.home.parent / f"{name}.log"
        site.logs.append(self.log)
        self._fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rokuon.cli.main", "-v", "serve", "--port", str(self.port),
             "--workers", str(workers)],
            env=site.env, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.site = site

    def wait_ready(self, timeout: float = 120.0) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, f"server exited:\n{self.site.log_tail()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        _wait(up, timeout, "server did not answer /healthz", self.site)

    def kill9(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._fh.close()


def _wait(cond: Callable[[], bool], timeout: float, what: str, site: Site,
          describe: Callable[[], str] | None = None) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.1)
    detail = describe() if describe else ""
    raise AssertionError(f"{what} after {timeout:.0f} s\n{detail}\n{site.log_tail()}")


# -- what the database says ---------------------------------------------------------------


def _jobs(site: Site) -> list[PipelineJob]:
    with site.rt.db.session() as s:
        return list(s.scalars(select(PipelineJob).order_by(PipelineJob.id)))


def _describe(site: Site) -> str:
    with site.rt.db.session() as s:
        calls = [(c.id, c.status, c.status_reason) for c in s.scalars(select(Call))]
    jobs = [(j.call_id, j.step, j.status, j.attempts, j.lease_owner, j.last_error)
            for j in _jobs(site)]
    return f"calls: {calls}\njobs: {jobs}"


def _all_indexed(site: Site, n: int) -> Callable[[], bool]:
    def check() -> bool:
        with site.rt.db.session() as s:
            states = list(s.scalars(select(Call.status)))
        assert "failed" not in states, f"a call failed:\n{_describe(site)}"
        return len(states) == n and all(st == "indexed" for st in states)
    return check


def _running(site: Site, step: str) -> list[PipelineJob]:
    return [j for j in _jobs(site) if j.step == step and j.status == JobStatus.RUNNING]


def _ingest_corpus(site: Site) -> list[str]:
    files = [CALLS / d / "stereo.wav" for d in CORPUS]
    if not all(f.exists() for f in files):
        pytest.skip("corpus calls not generated")
    res = site.cli("ingest", "--json", *map(str, files))
    assert res.returncode == 0, res.stderr
    ids = [c["call_id"] for c in json.loads(res.stdout)["calls"]]
    assert len(ids) == len(CORPUS) and len(set(ids)) == len(ids)
    return ids


def _assert_each_call_once(site: Site, call_ids: list[str]) -> None:
    """One Call row per recording, one current transcript (and one transcript at all:
    a re-run never stored a second), each analyzer once, one set of events and jobs per
    step, no lease left; on SQLite one full-text row per segment."""
    rt = site.rt
    with rt.db.session() as s:
        assert sorted(s.scalars(select(Call.id))) == sorted(call_ids)
        assert s.scalar(select(func.count(func.distinct(Call.content_sha256)))) == len(call_ids)
        for cid in call_ids:
            trs = list(s.scalars(select(Transcript).where(Transcript.call_id == cid)))
            assert len(trs) == 1 and trs[0].is_current, (cid, [(t.id, t.version) for t in trs])
            segs = s.scalar(select(func.count()).select_from(Segment)
                            .where(Segment.call_id == cid))
            assert segs and segs == s.scalar(select(func.count()).select_from(Segment).where(
                Segment.transcript_id == trs[0].id))
            analyzers = list(s.scalars(select(AnalysisResult.analyzer)
                                       .where(AnalysisResult.call_id == cid)))
            assert analyzers and len(analyzers) == len(set(analyzers)), analyzers
            assert {a.transcript_id for a in s.scalars(select(AnalysisResult).where(
                AnalysisResult.call_id == cid))} == {trs[0].id}
            states = [e.state for e in s.scalars(select(PipelineEvent).where(
                PipelineEvent.call_id == cid, PipelineEvent.detail.is_(None)
                | (PipelineEvent.state == "received")).order_by(PipelineEvent.id))]
            assert states == ["received", "stored", "transcribed", "analyzed", "indexed"], states
            jobs = list(s.scalars(select(PipelineJob).where(PipelineJob.call_id == cid)))
            assert sorted(j.step for j in jobs) == ["analyze", "index", "transcribe"]
            for j in jobs:
                assert j.status == JobStatus.DONE and j.lease_owner is None, (
                    j.step, j.status, j.lease_owner)
            if s.get_bind().dialect.name == "sqlite":
                fts = s.execute(sa.text("SELECT count(*), count(DISTINCT segment_id) FROM "
                                        "segments_fts WHERE call_id = :c"), {"c": cid}).one()
                assert tuple(fts) == (segs, segs), (cid, tuple(fts), segs)


def _wrapped(call: Call):  # type: ignore[no-untyped-def]
    from rokuon.store.keys import WrappedKey

    return WrappedKey.from_json(call.wrapped_key)


def _assert_no_orphan_blob(site: Site) -> None:
    """Every blob file belongs to a call, every call's blob is there, no partial file."""
    rt = site.rt
    with rt.db.session() as s:
        keys = set(s.scalars(select(Call.blob_key)))
    stored = set(rt.blobs.keys())
    assert stored == keys, f"blobs without a call: {stored - keys}, calls without: {keys - stored}"
    leftovers = [p for p in rt.settings.blob_dir.rglob("*") if ".partial-" in p.name]
    assert not leftovers, leftovers


# -- the tests ----------------------------------------------------------------------------


def test_kill_server_during_transcription_then_restart(site: Site) -> None:
    """SIGKILL the server while it transcribes; a new server resumes the interrupted
    jobs at once (not after the 60 s lease) and every call is processed exactly once."""
    server = Server(site, "serve-1")
    try:
        server.wait_ready()
        call_ids = _ingest_corpus(site)
        _wait(lambda: bool(_running(site, "transcribe")), 300,
              "no transcribe job started", site, lambda: _describe(site))
        time.sleep(3.0)  # the model is loading or decoding now
        interrupted = {j.id: j.lease_owner for j in _jobs(site)
                       if j.status == JobStatus.RUNNING}
        assert interrupted
    finally:
        server.kill9()
    with site.rt.db.session() as s:  # nothing half-done: the steps commit all or nothing
        assert s.scalar(select(func.count()).select_from(Transcript)) == sum(
            1 for j in _jobs(site) if j.step == "transcribe" and j.status == JobStatus.DONE)

    restarted = time.monotonic()
    server = Server(site, "serve-2")
    try:
        def taken_over() -> bool:
            owners = {j.id: j.lease_owner for j in _jobs(site)}
            return all(owners[i] != old for i, old in interrupted.items())

        took = _wait(taken_over, LEASE_S, "the interrupted jobs were not taken over "
                     "before their lease expired", site, lambda: _describe(site))
        assert took < LEASE_S / 2, f"taking over the interrupted jobs took {took:.1f} s"
        _wait(_all_indexed(site, len(call_ids)), FINISH_TIMEOUT_S,
              "not every call was indexed", site, lambda: _describe(site))
        elapsed = time.monotonic() - restarted
    finally:
        server.stop()
    print(f"restart to all indexed: {elapsed:.1f} s; interrupted jobs taken over "
          f"{took:.1f} s after the restart")
    _assert_each_call_once(site, call_ids)
    _assert_no_orphan_blob(site)
    with site.rt.db.session() as s:
        for job_id in interrupted:
            job = s.get(PipelineJob, job_id)
            assert job.attempts == 2, (job.step, job.attempts)
            detail = s.scalars(select(PipelineEvent.detail).where(
                PipelineEvent.call_id == job.call_id,
                PipelineEvent.detail.like(f"{job.step} attempt 1 interrupted%"))).all()
            assert len(detail) == 1, detail


def _terminate_server_connections(site: Site) -> int:
    """What a database restart does to a running server: every connection it has to its
    database is cut (the test's own are spared)."""
    assert site.database_url
    name = sa.engine.make_url(site.database_url).database
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as c:
            return int(c.execute(sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                "FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid() "
                "AND application_name <> :me"), {"d": name, "me": TEST_APP}).scalar() or 0)
    finally:
        admin.dispose()


def test_postgres_cuts_every_connection_of_a_running_server(site: Site) -> None:
    """The database drops all of a running server's connections, again and again, while
    it transcribes, analyses and indexes: the server stays up, recovers its connections
    and still processes every call exactly once."""
    if not site.database_url:
        pytest.skip("PostgreSQL only: set ROKUON_TEST_DATABASE_URL (make test-postgres)")
    server = Server(site, "serve")
    cut = 0
    try:
        server.wait_ready()
        call_ids = _ingest_corpus(site)
        _wait(lambda: bool(_running(site, "transcribe")), 300,
              "no transcribe job started", site, lambda: _describe(site))
        done = _all_indexed(site, len(call_ids))
        start = time.monotonic()
        rounds = 0
        while not done():
            assert time.monotonic() - start < FINISH_TIMEOUT_S, (
                f"not every call was indexed\n{_describe(site)}\n{site.log_tail()}")
            assert server.proc.poll() is None, f"the server died:\n{site.log_tail()}"
            cut += _terminate_server_connections(site)
            rounds += 1
            time.sleep(0.5 + (rounds % 5) * 0.2)  # cuts land in every phase of the steps
        assert server.proc.poll() is None, f"the server died:\n{site.log_tail()}"
        server.wait_ready(10)  # and still answers
    finally:
        server.stop()
    print(f"{cut} server connections cut in {rounds} rounds")
    assert cut >= 3
    _assert_each_call_once(site, call_ids)
    _assert_no_orphan_blob(site)


def _big_wav(path: Path, seconds: int) -> None:
    """A real 48 kHz stereo PCM WAV (noise), big enough that streaming it into the blob
    store takes a while: about 190 KB per second."""
    rate, channels, width = 48000, 2, 2
    size = seconds * rate * channels * width
    with path.open("wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE")
        fh.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate,
                                       rate * channels * width, channels * width, 8 * width))
        fh.write(b"data" + struct.pack("<I", size))
        block = os.urandom(1 << 20)
        for i in range(0, size, len(block)):
            fh.write(block[: size - i] if size - i < len(block) else
                     bytes([i // len(block) % 251]) + block[1:])


def _kill_ingest_when(site: Site, path: Path, seen: Callable[[], bool], what: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "rokuon.cli.main", "ingest", str(path)],
                            env=site.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        end = time.monotonic() + 120
        while not seen():
            assert proc.poll() is None, (
                f"ingest ended before {what}: {proc.stderr.read().decode() if proc.stderr else ''}")
            assert time.monotonic() < end, f"no {what} within 120 s"
            time.sleep(0.002)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _partials(site: Site) -> list[Path]:
    return [p for p in site.rt.settings.blob_dir.rglob("*") if ".partial-" in p.name]


def _placed(site: Site) -> list[Path]:
    return [p for p in site.rt.settings.blob_dir.rglob("original") if p.is_file()]


def test_kill_ingest_while_the_recording_streams_in(site: Site, tmp_path: Path) -> None:
    """SIGKILL ``rokuon ingest`` (a) while the recording is being written into the blob
    store and (b) after the blob is in place but before the call is recorded: once the
    server has started (its start-up sweep), there is a complete call or nothing — no
    call without its blob, no blob or partial file without a call."""
    big = tmp_path / "big.wav"
    _big_wav(big, 600)  # 115 MB
    _kill_ingest_when(site, big, lambda: bool(_partials(site)), "partial blob file")
    assert _partials(site), "the kill did not land while the blob was written"
    big.write_bytes(big.read_bytes()[:-1] + b"\x01")  # another recording
    _kill_ingest_when(site, big, lambda: bool(_placed(site)), "placed blob")
    with site.rt.db.session() as s:
        recorded = s.scalar(select(func.count()).select_from(Call))
    print(f"after the kills: {len(_partials(site))} partial file(s), "
          f"{len(_placed(site))} placed blob(s), {recorded} call(s)")
    # the start-up sweep removes a blob without a call only once it is over an hour old
    # (another process may still commit its row): the killed ingest's blob is aged
    old = time.time() - 2 * 3600
    for p in _placed(site):
        os.utime(p, (old, old))
    server = Server(site, "serve", workers=1)
    try:
        server.wait_ready()
    finally:
        server.stop()
    _assert_no_orphan_blob(site)
    with site.rt.db.session() as s:
        for call in s.scalars(select(Call)):  # a call that made it is complete and usable
            with site.rt.blobs.open(call.blob_key, _wrapped(call)) as r:
                assert r.read(4) == b"RIFF"
