"""Celery under faults, with real processes: two ``rokuon worker`` processes on a real
RabbitMQ (a vhost of the test's own, created and deleted here) and the real database;
one is killed with SIGKILL mid-transcription and every call still ends analysed and
indexed exactly once. The broker connection drops (a TCP relay in front of RabbitMQ is
cut and comes back) and the work resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import pytest
from sqlalchemy import select

from rokuon.store.models import JobStatus, PipelineJob
from tests.conftest import CALLS
from tests.pipeline.test_crash_safety import (  # noqa: F401 - fixtures
    CORPUS,
    FINISH_TIMEOUT_S,
    Site,
    _all_indexed,
    _assert_each_call_once,
    _assert_no_orphan_blob,
    _describe,
    _jobs,
    _running,
    _wait,
    fresh_database,
    site,
)

pytestmark = pytest.mark.slow
AMQP = ("127.0.0.1", 5672)


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def vhost() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own (guest may use it), deleted afterwards."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not available: cannot create a vhost of the test's own")
    try:
        socket.create_connection(AMQP, timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at {AMQP[0]}:{AMQP[1]}: {exc}")
    name = f"rokuon-test-{uuid.uuid4().hex[:10]}"
    res = _rabbitmqctl("add_vhost", name)
    if res.returncode != 0:
        pytest.skip(f"rabbitmqctl add_vhost failed: {res.stderr.strip()[:200]}")
    try:
        res = _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        assert res.returncode == 0, res.stderr
        yield name
    finally:
        _rabbitmqctl("delete_vhost", name)


class Relay:
    """A TCP relay to the broker that the test can cut (every connection closed, the
    port refused) and bring back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._srv: socket.socket | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.up()

    def up(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._srv = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def down(self) -> None:
        srv, self._srv = self._srv, None
        if srv:
            with suppress(OSError):
                srv.shutdown(socket.SHUT_RDWR)
            srv.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class Worker:
    """``rokuon worker`` (Celery) in its own process group."""

    def __init__(self, st: Site, name: str, *args: str) -> None:
        self.log = st.home.parent / f"{name}.log"
        st.logs.append(self.log)
        self._fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rokuon.cli.main", "-v", "worker", *args],
            env=st.env, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)

    def owns(self, owner: str | None) -> bool:
        """Is the lease owner ``host:pid:…`` one of this worker's processes?"""
        if not owner:
            return False
        pid = int(owner.split(":")[1])
        try:
            return os.getpgid(pid) == self.proc.pid
        except ProcessLookupError:
            return False

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
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._fh.close()


def _use_broker(st: Site, url: str) -> None:
    st.env.update(ROKUON_BROKER_URL=url, ROKUON_BROKER_SWEEP_S="1",
                    ROKUON_BROKER_QUEUE_PREFIX=f"t{uuid.uuid4().hex[:8]}")


def _ingest(st: Site, names: tuple[str, ...]) -> list[str]:
    files = [CALLS / d / "stereo.wav" for d in names]
    if not all(f.exists() for f in files):
        pytest.skip("corpus calls not generated")
    res = st.cli("ingest", "--json", *map(str, files))
    assert res.returncode == 0, res.stderr
    return [c["call_id"] for c in json.loads(res.stdout)["calls"]]


def test_worker_killed_mid_transcription(site: Site, vhost: str) -> None:  # noqa: F811
    """Two worker processes share a batch; the one transcribing is killed with SIGKILL;
    the other takes its job over (the dead process's lock file says so at once) and
    every call is analysed and indexed exactly once."""
    _use_broker(site, f"amqp://guest:guest@{AMQP[0]}:{AMQP[1]}/{vhost}")
    beat = Worker(site, "beat", "--beat-only")
    a = Worker(site, "worker-a", "--concurrency", "1")
    b = Worker(site, "worker-b", "--concurrency", "1")
    try:
        call_ids = _ingest(site, CORPUS)
        _wait(lambda: bool(_running(site, "transcribe")), 300, "no transcribe job started",
              site, lambda: _describe(site))
        time.sleep(3.0)  # the model is loading or decoding now
        running = _running(site, "transcribe")
        victim = a if any(a.owns(j.lease_owner) for j in running) else b
        killed = {j.id for j in running if victim.owns(j.lease_owner)}
        assert killed, f"no job of either worker: {[j.lease_owner for j in running]}"
        victim.kill9()
        survivor = b if victim is a else a
        _wait(_all_indexed(site, len(call_ids)), FINISH_TIMEOUT_S,
              "not every call was indexed", site, lambda: _describe(site))
        assert survivor.proc.poll() is None, site.log_tail()
    finally:
        for w in (a, b, beat):
            w.stop()
    _assert_each_call_once(site, call_ids)
    _assert_no_orphan_blob(site)
    with site.rt.db.session() as s:
        for job_id in killed:
            job = s.get(PipelineJob, job_id)
            assert job.status == JobStatus.DONE and job.attempts == 2, (job.attempts,)


def test_broker_connection_drops_and_returns(site: Site, vhost: str) -> None:  # noqa: F811
    """The broker goes away while a call waits and while it is processed; the worker
    and the beat reconnect when it is back and the call is processed once."""
    relay = Relay(AMQP)
    _use_broker(site, f"amqp://guest:guest@127.0.0.1:{relay.port}/{vhost}")
    beat = Worker(site, "beat", "--beat-only")
    w = Worker(site, "worker", "--concurrency", "1")
    try:
        time.sleep(5.0)  # both connected
        relay.down()
        [cid] = _ingest(site, CORPUS[:1])
        time.sleep(4.0)
        assert all(j.status == JobStatus.PENDING for j in _jobs(site)), _describe(site)
        relay.up()
        _wait(lambda: bool(_running(site, "transcribe")) or _all_indexed(site, 1)(), 120,
              "work did not resume when the broker came back", site,
              lambda: _describe(site))
        relay.down()  # and again, mid-step
        time.sleep(3.0)
        relay.up()
        _wait(_all_indexed(site, 1), FINISH_TIMEOUT_S, "the call was not indexed", site,
              lambda: _describe(site))
        assert w.proc.poll() is None and beat.proc.poll() is None, site.log_tail()
    finally:
        for p in (w, beat):
            p.stop()
        relay.down()
    _assert_each_call_once(site, [cid])
    with site.rt.db.session() as s:
        assert s.scalars(select(PipelineJob.status).where(
            PipelineJob.call_id == cid)).all() == [JobStatus.DONE] * 3
