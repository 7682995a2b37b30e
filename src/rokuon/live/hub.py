"""The live side of one server process: the calls in progress (registry), their
streaming transcription and the board, wired together."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from rokuon.assist.live import LiveAssist
from rokuon.live.board import LiveBoard
from rokuon.live.registry import LiveRegistry
from rokuon.live.session import LiveSession
from rokuon.live.transcriber import ChannelFeed, LiveTranscriber
from rokuon.runtime import Runtime

log = logging.getLogger("rokuon.live")
TICK_S = 1.0


class LiveHub:
    def __init__(self, rt: Runtime, *, transcribe: bool = True,
                 on_alert: Callable[[LiveSession, dict[str, Any]], None] | None = None
                 ) -> None:
        self.rt = rt
        self.registry = LiveRegistry()
        from rokuon.live.rule_versions import RuleSource

        # the configuration, with the newest live rules edited in the browser (re-read
        # every few seconds: an edit applies to the calls already running)
        self.rules = RuleSource(lambda: rt.analysis_config, rt.db.session)
        self.board = LiveBoard(self.rules, on_alert or self.store_alert, self._settled)
        self.transcriber = LiveTranscriber(lambda: rt.asr, self.board.on_text) \
            if transcribe else None
        self.assist = LiveAssist(self._suggest, self.board.show_suggestions)
        if rt.settings.faq_live:  # FAQ answers on the agent's screen (docs/assist.md)
            self.board.on_customer_final = self.assist.submit
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def store_alert(self, session: LiveSession, alert: dict[str, Any]) -> None:
        """Keep the alert (deduplicated per call and rule) and send ``alert.raised`` to
        the webhooks that want it (rokuon.integrations)."""
        from rokuon.integrations.alerts import raise_alert

        with self.rt.db.session() as s:
            raise_alert(s, call_id=alert["call_id"], rule=alert["rule"], kind=alert["kind"],
                        speaker=alert["speaker"], start=alert["start"], end=alert["end"],
                        text=alert["text"], score=alert["score"])

    def _suggest(self, text: str, trigger: str) -> list[dict[str, Any]]:
        """FAQ answers for a customer's utterance (rokuon.assist; on its worker thread)."""
        from rokuon.assist.suggest import shared_suggester

        with self.rt.db.session() as s:
            return shared_suggester(self.rt.settings).suggest(s, text, trigger=trigger)

    def _settled(self, call_id: str) -> bool:
        return self.transcriber is None or not self.transcriber.pending(call_id)

    def start(self) -> LiveHub:
        if self.transcriber:
            self.transcriber.start()
        self.assist.start()
        self._ticker = threading.Thread(target=self._tick, name="live-board", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.transcriber:
            self.transcriber.stop()
        self.assist.stop()
        for session in self.registry.all():  # shutting down mid-call: leave the spool
            session.abandon()                  # for the next start's recovery

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.board.tick()
            except Exception:  # noqa: BLE001
                log.exception("live board tick failed")

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        from rokuon.integrations.webhooks import emit

        try:
            with self.rt.db.session() as s:
                emit(s, event, data)
        except Exception:  # noqa: BLE001 - an event that cannot be queued never costs audio
            log.exception("queueing %s failed", event)

    def opened(self, session: LiveSession) -> None:
        """A stream started: register it, show it, transcribe it, tell the webhooks."""
        self.registry.add(session)
        self.board.opened(session)
        meta = session.meta
        self._emit("call.started", {"call_id": session.call_id, "source": session.source,
                                    "agent": meta.agent, "queue": meta.queue,
                                    "direction": meta.direction,
                                    "external_id": meta.external_id})
        if self.transcriber is None:
            return
        roles = session.meta.channels or self.rt.settings.default_channels
        if session.channels == 1:
            feeds = [ChannelFeed(session.call_id, None, "speaker_0", session.rate)]
        else:
            feeds = [ChannelFeed(session.call_id, ch, roles[ch], session.rate)
                     for ch in range(session.channels)]
        transcriber = self.transcriber

        def tap(pcm: bytes, ended: bool) -> None:
            x = np.frombuffer(pcm, dtype="<i2").reshape(-1, session.channels)
            for ch, feed in enumerate(feeds):
                transcriber.feed(feed, np.ascontiguousarray(x[:, ch]), final=ended)

        session.taps.append(tap)

    def closed(self, session: LiveSession) -> None:
        self.registry.remove(session.call_id)
        self.board.ended(session.call_id)
        self._emit("call.ended", {"call_id": session.call_id,
                                  "duration_s": round(session.seconds, 3),
                                  "paused_spans": session.paused})
