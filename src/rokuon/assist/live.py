"""FAQ suggestions while a call is in progress, off the audio path.

The live board hands every final customer utterance to :meth:`LiveAssist.submit`, which
only records it and returns (it runs on the transcriber's thread). One worker thread
computes the suggestions and hands them back to the board. Per call only the newest
utterance waits — an older one not yet started is dropped (``superseded``), as is one
that waited longer than ``max_age_s`` (``stale``): a suggestion for what the customer
said half a minute ago helps nobody. A failure is logged and counted, never raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("rokuon.assist")

Suggest = Callable[[str, str], list[dict[str, Any]]]  # (text, trigger shown) → suggestions
Deliver = Callable[[str, list[dict[str, Any]]], None]  # (call id, suggestions)


@dataclass
class _Ask:
    call_id: str
    text: str
    trigger: str
    start: float
    at: float  # monotonic time it was submitted


class LiveAssist:
    def __init__(self, suggest: Suggest, deliver: Deliver, *, max_age_s: float = 10.0
                 ) -> None:
        self._suggest = suggest
        self._deliver = deliver
        self.max_age_s = max_age_s
        self._waiting: dict[str, _Ask] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.stats = {"submitted": 0, "suggested": 0, "nothing": 0, "superseded": 0,
                      "stale": 0, "failed": 0}

    def start(self) -> LiveAssist:
        with self._cv:
            self._stop = False
        self._thread = threading.Thread(target=self._run, name="live-assist", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, call_id: str, text: str, trigger: str, start: float) -> None:
        """Queue a customer's final utterance (never blocks, never raises)."""
        with self._cv:
            self.stats["submitted"] += 1
            if call_id in self._waiting:
                self.stats["superseded"] += 1
            self._waiting[call_id] = _Ask(call_id, text, trigger, start, time.monotonic())
            self._cv.notify()

    def idle(self) -> bool:
        """Nothing waiting and nothing being computed."""
        with self._cv:
            return not self._waiting and not self._busy

    def _next(self) -> _Ask | None:
        with self._cv:
            while not self._waiting and not self._stop:
                self._cv.wait()
            if self._stop:
                return None
            call_id = min(self._waiting, key=lambda c: self._waiting[c].at)
            self._busy = True
            return self._waiting.pop(call_id)

    def _run(self) -> None:
        while True:
            ask = self._next()
            if ask is None:
                return
            try:
                self._handle(ask)
            finally:
                with self._cv:
                    self._busy = False

    def _handle(self, ask: _Ask) -> None:
        if time.monotonic() - ask.at > self.max_age_s:
            self.stats["stale"] += 1
            return
        try:
            found = self._suggest(ask.text, ask.trigger)
        except Exception:  # noqa: BLE001 - suggestions are an extra; the call goes on
            self.stats["failed"] += 1
            log.exception("FAQ suggestions for call %s failed", ask.call_id)
            return
        if not found:
            self.stats["nothing"] += 1
            return
        self.stats["suggested"] += 1
        try:
            self._deliver(ask.call_id, [{**s, "start": round(ask.start, 2)} for s in found])
        except Exception:  # noqa: BLE001
            self.stats["failed"] += 1
            log.exception("showing FAQ suggestions for call %s failed", ask.call_id)
