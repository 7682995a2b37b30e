"""``CeleryExecutor``: the ``Executor`` of a web process when ``broker_url`` is set.

It runs nothing itself: ``notify`` (called where work was queued: ingest, retry,
reanalyze, rescore, the watch folder) publishes one "there is work" message per queue
that has runnable jobs; the Celery workers (``rokuon worker``) do the rest. Work queued
by a process that does not notify (the CLI) is published by the beat's sweep within
``broker_sweep_s``.
"""

from __future__ import annotations

import logging
import threading

from rokuon.runtime import Runtime

log = logging.getLogger("rokuon.pipeline.celery")


class CeleryExecutor:
    def __init__(self, rt: Runtime) -> None:
        from rokuon.pipeline import celery_app

        celery_app.configure(rt.settings)
        self.rt = rt
        self.n = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def stop(self, timeout: float | None = None) -> None:
        pass

    def notify(self) -> None:
        """Publish work; a broker or database hiccup is logged (the sweep catches up)."""
        from rokuon.pipeline import celery_app

        try:
            with self._lock:
                celery_app.publish_runnable(self.rt)
        except Exception as exc:  # noqa: BLE001 - never fail the request that queued work
            log.warning("could not publish work to the broker (the beat's sweep will): %s",
                        exc)


def make_executor(rt: Runtime):  # type: ignore[no-untyped-def]
    """The executor this installation runs: Celery when a broker is set, else embedded."""
    if rt.settings.broker_url:
        return CeleryExecutor(rt)
    from rokuon.pipeline.executor import EmbeddedExecutor

    return EmbeddedExecutor(rt)
