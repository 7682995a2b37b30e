"""What the live board shows: the calls in progress, their transcript as it grows
(personal data masked; partial text with every digit masked), and their alerts.

The board keeps display state only, in memory: the durable record of a live call is its
spool, then the call the batch pipeline makes of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rokuon.access.principal import Principal
from rokuon.engine.types import Segment
from rokuon.live import rules as live_rules
from rokuon.live.session import LiveSession
from rokuon.live.transcriber import LiveText

log = logging.getLogger("rokuon.live")
KEEP_ENDED_S = 120.0  # an ended call stays on the board this long


def mask_digits(text: str) -> str:
    """A partial's text with every readable digit masked (card data is never shown)."""
    from rokuon.engine.analysis.pii import MASK
    from rokuon.engine.analysis.pii.leaks import digits_in

    chars = list(text)
    for a, b, _ in digits_in(text):
        for i in range(a, b):
            chars[i] = MASK
    return "".join(chars)


@dataclass
class BoardCall:
    session: LiveSession
    opened_at: float
    finals: list[Segment] = field(default_factory=list)
    shown: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)
    last_speech_s: float = 0.0
    ended_at: float | None = None
    latencies: list[float] = field(default_factory=list)
    pii: list[dict[str, Any]] = field(default_factory=list)
    masked: list[Segment] = field(default_factory=list)
    # FAQ answers for the customer's last utterance that had some (rokuon.assist.live)
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    def visible_to(self, p: Principal) -> bool:
        from rokuon.live.registry import in_live_scope

        return in_live_scope(p, self.session)

    def as_dict(self) -> dict[str, Any]:
        s = self.session
        return {"call_id": s.call_id, "source": s.source, "agent": s.meta.agent,
                "queue": s.meta.queue, "team": s.meta.extra().get("team"),
                "direction": s.meta.direction, "seconds": round(s.seconds, 1),
                "paused": s.is_paused, "ended": self.ended_at is not None,
                "segments": self.shown[-200:],
                "partials": [p for p in self.partial.values()],
                "alerts": self.alerts, "suggestions": self.suggestions}


class LiveBoard:
    def __init__(self, cfg: Callable[[], dict[str, Any]],
                 on_alert: Callable[[LiveSession, dict[str, Any]], None] | None = None,
                 settled: Callable[[str], bool] | None = None) -> None:
        self._cfg = cfg
        self.on_alert = on_alert
        # False while some of the call's audio is not yet final text: rules about what was
        # *not* said (no announcement, silence) wait until the transcript has caught up
        self.settled = settled or (lambda call_id: True)
        self._calls: dict[str, BoardCall] = {}
        # a customer's final utterance: (call id, text, masked text, start s); must return
        # at once (it runs on the transcriber's thread) — FAQ assist queues it
        self.on_customer_final: Callable[[str, str, str, float], None] | None = None
        self._lock = threading.RLock()
        self.version = 0
        self.changed = threading.Condition(self._lock)

    def _bump(self) -> None:
        self.version += 1
        self.changed.notify_all()

    def opened(self, session: LiveSession) -> None:
        with self._lock:
            self._calls[session.call_id] = BoardCall(session, time.monotonic())
            self._bump()

    def ended(self, call_id: str) -> None:
        with self._lock:
            bc = self._calls.get(call_id)
            if bc:
                bc.ended_at = time.monotonic()
                bc.partial.clear()
                self._bump()

    def get(self, call_id: str) -> BoardCall | None:
        with self._lock:
            return self._calls.get(call_id)

    def on_text(self, t: LiveText) -> None:
        ask: tuple[str, str, str, float] | None = None
        with self._lock:
            bc = self._calls.get(t.call_id)
            if bc is None:
                return
            if t.kind == "partial":
                bc.partial[t.channel] = {"speaker": t.speaker, "start": round(t.start, 2),
                                         "text": mask_digits(t.text)}
            else:
                bc.partial.pop(t.channel, None)
                if t.latency_s is not None:
                    bc.latencies.append(t.latency_s)
                if t.segments:
                    bc.finals = sorted(bc.finals + t.segments, key=lambda s: s.start)
                    bc.last_speech_s = max(bc.last_speech_s, t.end)
                    self._refresh(bc)
                    if t.speaker != "agent" and bc.ended_at is None:
                        ask = (t.call_id, t.text, self._masked_text(bc, t.segments), t.start)
            self._bump()
        if ask is not None and self.on_customer_final is not None:
            try:
                self.on_customer_final(*ask)
            except Exception:  # noqa: BLE001 - live extras never cost the transcript
                log.exception("queueing FAQ suggestions failed")

    @staticmethod
    def _masked_text(bc: BoardCall, segments: list[Segment]) -> str:
        """The shown (masked) text of these segments of the call."""
        ids = {id(s) for s in segments}
        if len(bc.masked) != len(bc.finals):
            return mask_digits("".join(s.text for s in segments))
        return "".join(m.text for f, m in zip(bc.finals, bc.masked, strict=True)
                       if id(f) in ids)

    def show_suggestions(self, call_id: str, suggestions: list[dict[str, Any]]) -> None:
        """FAQ answers for the call's latest customer utterance (from rokuon.assist)."""
        with self._lock:
            bc = self._calls.get(call_id)
            if bc is None or bc.ended_at is not None:
                return
            bc.suggestions = suggestions
            self._bump()

    def _refresh(self, bc: BoardCall) -> None:
        """Masked transcript and rules over the finals so far."""
        from rokuon.engine.analysis.pii import TYPES, detect, mask_segments

        cfg = self._cfg()
        try:
            pii = detect(bc.finals, cfg)
            masked = mask_segments(bc.finals, pii, set(TYPES))
        except Exception:  # noqa: BLE001 - show nothing rather than unmasked text
            log.exception("masking the live transcript failed")
            pii, masked = [], [Segment(s.speaker, s.start, s.end, mask_digits("…"))
                               for s in bc.finals]
        bc.pii, bc.masked = pii, masked
        bc.shown = [{"speaker": s.speaker, "start": round(s.start, 2),
                     "end": round(s.end, 2), "text": s.text} for s in masked]
        self._rules(bc, cfg, pii, masked)

    def _rules(self, bc: BoardCall, cfg: dict[str, Any], pii: list[dict[str, Any]],
               masked: list[Segment]) -> None:
        try:
            rules = live_rules.check_rules(cfg.get("live_rules"))
        except live_rules.RuleError as exc:
            log.error("live rules ignored: %s", exc)
            return
        rules = [r for r in rules if r.get("enabled", True) is not False]
        if not self.settled(bc.session.call_id):
            rules = [r for r in rules if r["when"] not in live_rules.ABSENCE_CONDITIONS]
        fired = live_rules.evaluate(rules, cfg, bc.finals, now_s=bc.session.seconds,
                                    last_speech_s=bc.last_speech_s, fired=bc.fired, pii=pii)
        for f in fired:
            bc.fired.add(f.rule)
            text = masked[f.segment].text if f.segment is not None and \
                f.segment < len(masked) else ""
            alert = {"call_id": bc.session.call_id, "rule": f.rule, "kind": f.kind,
                     "speaker": f.speaker, "start": round(f.start, 2),
                     "end": round(f.end, 2), "text": text, "score": f.score,
                     "at_s": round(bc.session.seconds, 1)}
            bc.alerts.append(alert)
            log.warning("live alert %s on call %s", f.rule, bc.session.call_id)
            if self.on_alert:
                try:
                    self.on_alert(bc.session, alert)
                except Exception:  # noqa: BLE001 - an alert sink failing is logged
                    log.exception("delivering live alert %s failed", f.rule)

    def tick(self) -> None:
        """Time-based rules (silence, no announcement) and forgetting ended calls."""
        now = time.monotonic()
        with self._lock:
            for cid, bc in list(self._calls.items()):
                if bc.ended_at is not None:
                    if now - bc.ended_at > KEEP_ENDED_S:
                        del self._calls[cid]
                        self._bump()
                    continue
                before = len(bc.alerts)
                self._rules(bc, self._cfg(), bc.pii, bc.masked)
                if len(bc.alerts) != before:
                    self._bump()

    def snapshot(self, p: Principal) -> list[dict[str, Any]]:
        from rokuon.access.permissions import allowed

        faq = allowed(p, "faq_read")
        with self._lock:
            calls = [bc.as_dict() for bc in self._calls.values() if bc.visible_to(p)]
        if not faq:
            for c in calls:
                c["suggestions"] = []
        return calls
