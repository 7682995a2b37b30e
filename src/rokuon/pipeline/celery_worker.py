"""``rokuon worker`` with a broker: a Celery worker on the chosen queues, optionally
with the cluster's beat. The pool is threads (``--concurrency`` steps at a time in one
process, sharing one loaded speech model, as the in-process workers do; the
transcriber starts its own processes, which a prefork pool's daemonic children may
not); scale further with more worker processes or machines."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from typing import Any

log = logging.getLogger("rokuon.pipeline.celery")


def run_celery_worker(rt: Any, *, queues: str, concurrency: int, beat: bool = False,
                      beat_only: bool = False) -> None:
    """Blocks until the worker is stopped (SIGTERM: warm shutdown, the running steps
    finish; their messages are acknowledged only then)."""
    from rokuon.pipeline import celery_app

    names = celery_app.parse_queues(queues)
    if concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    app = celery_app.configure(rt.settings)
    settings = rt.settings
    rt.close()  # the tasks open this process's Runtime when the first one runs
    if beat_only:
        from rokuon.pipeline.celery_beat import ClusterBeat
        from rokuon.runtime import Runtime

        b = ClusterBeat(Runtime(settings)).start()
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
        b.stop()
        return
    if beat:
        from celery import signals

        def _start_beat(**_: object) -> None:  # once the worker is connected
            from rokuon.pipeline.celery_beat import ClusterBeat
            from rokuon.runtime import Runtime

            ClusterBeat(Runtime(settings)).start()

        signals.worker_ready.connect(_start_beat, weak=False)
    argv = ["worker", "--loglevel", "INFO", "--pool", "threads",
            "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
            "--without-heartbeat",
            "--hostname", f"rokuon-{os.getpid()}@{socket.gethostname()}",
            "--queues", ",".join(celery_app.queue_name(settings, q) for q in names)]
    app.worker_main(argv)
