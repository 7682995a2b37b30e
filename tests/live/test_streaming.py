"""Streaming transcription and the live board with a stand-in engine (the real-model
test is tests/live/test_live_asr.py): utterances cut at pauses, finals in order, partials
dropped under load, never audio; the board masks card digits and fires each rule once."""

from __future__ import annotations

import threading
import time

import numpy as np

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.analysis.config import load_config
from rokuon.engine.types import Segment
from rokuon.live.board import LiveBoard, mask_digits
from rokuon.live.transcriber import ChannelFeed, Endpointer, LiveText, LiveTranscriber


def _bursts(rate: int, plan: list[tuple[float, bool]]) -> np.ndarray:
    """Tone bursts (True) and near-silence (False), int16 at ``rate``."""
    rng = np.random.default_rng(0)
    parts = []
    for seconds, voiced in plan:
        n = int(seconds * rate)
        t = np.arange(n) / rate
        x = 0.3 * np.sin(2 * np.pi * 220 * t) if voiced else 0.0005 * rng.standard_normal(n)
        parts.append((x * 32767).astype(np.int16))
    return np.concatenate(parts)


class FakeEngine:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.finals, self.partials = delay, [], 0
        self.lock = threading.Lock()

    def transcribe_utterances(self, clips):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)  # one decode, however many clips
        out = []
        for samples, role, channel, offset_s in clips:
            dur = len(samples) / 16000
            with self.lock:
                self.finals.append((role, round(offset_s, 2), round(dur, 2)))
            out.append([Segment(role, offset_s, offset_s + dur, f"{role}@{offset_s:.1f}",
                                channel=channel)])
        self.batches = getattr(self, "batches", 0) + 1
        return out

    def hotwords_for(self, role):  # type: ignore[no-untyped-def]
        return "録音" if role == "agent" else None

    def partial_text(self, samples):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        self.partials += 1
        return "途中"


def _run(engine: FakeEngine, audio: np.ndarray, rate: int, chunk_s: float = 0.02,
         sleep: float = 0.0) -> tuple[list[LiveText], LiveTranscriber]:
    texts: list[LiveText] = []
    tr = LiveTranscriber(lambda: engine, texts.append).start()
    feed = ChannelFeed("c1", 0, "customer", rate)
    step = int(rate * chunk_s)
    for i in range(0, len(audio), step):
        tr.feed(feed, audio[i:i + step])
        if sleep:
            time.sleep(sleep)
    tr.feed(feed, np.zeros(0, np.int16), final=True)
    deadline = time.monotonic() + 30
    while not tr.idle() and time.monotonic() < deadline:
        time.sleep(0.02)
    tr.stop()
    return texts, tr


def test_utterances_are_cut_at_pauses_with_call_times() -> None:
    audio = _bursts(8000, [(0.5, False), (1.2, True), (0.8, False), (2.0, True), (1.0, False),
                           (0.1, True), (1.0, False), (0.7, True)])
    texts, tr = _run(FakeEngine(), audio, 8000)
    finals = [t for t in texts if t.kind == "final"]
    # three utterances (the 0.1 s click is too short to be speech); the last is flushed
    assert [round(t.start, 1) for t in finals] == [0.3, 2.3, 6.4], finals
    assert abs(finals[0].end - finals[0].start - (1.2 + 0.2 + 0.5)) < 0.1  # pre-roll + tail
    assert all(t.latency_s is not None and t.latency_s >= 0 for t in finals)
    assert any(t.kind == "partial" and t.text == "途中" for t in texts)  # the 2 s utterance


def test_overload_drops_partials_never_finals() -> None:
    plan = []
    for _ in range(12):
        plan += [(1.5, True), (0.7, False)]
    audio = _bursts(16000, plan)
    engine = FakeEngine(delay=0.15)
    texts, tr = _run(engine, audio, 16000, chunk_s=0.1, sleep=0.0)  # far faster than real time
    finals = [t for t in texts if t.kind == "final"]
    assert len(finals) == 12 and [t.start for t in finals] == sorted(t.start for t in finals)
    assert tr.stats["partials_dropped"] > 0
    assert engine.batches < 12  # utterances that waited were decoded together


def test_endpointer_forces_a_cut_in_endless_speech() -> None:
    ep = Endpointer(max_utterance_s=3.0)
    x = (0.3 * np.sin(2 * np.pi * 200 * np.arange(16000 * 7) / 16000)).astype(np.float32)
    cuts = ep.push(x, 0.0)
    assert len(cuts) == 2 and all(abs(len(u.samples) / 16000 - 3.0) < 0.05 for u in cuts)


class _Session:
    def __init__(self, agent: str, team: str) -> None:
        self.call_id, self.source, self.seconds, self.is_paused = "c1", "ws", 50.0, False
        self.meta = CallMetadata.model_validate({"agent": agent, "team": team})


def _final(speaker: str, start: float, text: str) -> LiveText:
    seg = Segment(speaker, start, start + 2, text, channel=0 if speaker == "agent" else 1)
    return LiveText("final", "c1", speaker, seg.channel, start, start + 2, text, 0.5, [seg])


def test_board_masks_and_fires_each_rule_once() -> None:
    alerts: list[dict] = []
    board = LiveBoard(lambda: load_config(), lambda s, a: alerts.append(a))
    sess = _Session("sato", "A")
    board.opened(sess)  # type: ignore[arg-type]
    board.on_text(LiveText("partial", "c1", "customer", 1, 3.0, 4.0, "カードは4980 1234"))
    snap = board.snapshot(Principal("sv@example.com", "supervisor", team="A"))
    assert snap[0]["partials"][0]["text"] == mask_digits("カードは4980 1234")
    assert "4980" not in str(snap)
    board.on_text(_final("agent", 1.0, "お電話ありがとうございます。"))
    board.on_text(_final("customer", 4.0, "ふざけるな、責任者を出せ。"))
    board.on_text(_final("customer", 8.0, "もういいです、ふざけるな。"))
    board.on_text(_final("customer", 12.0, "カード番号は4980 1234 5678 9012です。"))
    kinds = sorted(a["rule"] for a in alerts)
    assert "abusive_customer" in kinds and "no_announcement" in kinds and "card_data" in kinds
    assert kinds.count("abusive_customer") == 1  # said twice, raised once
    card = next(a for a in alerts if a["rule"] == "card_data")
    assert "4980" not in card["text"] and "9012" not in card["text"]
    shown = board.snapshot(Principal("admin@example.com", "admin"))[0]["segments"]
    assert len(shown) == 4 and all("9012" not in s["text"] for s in shown)
    # scope: another team's supervisor, an agent of another name, an auditor see nothing
    for p in (Principal("b@example.com", "supervisor", team="B"),
              Principal("k@example.com", "operator", agent_name="kato"),
              Principal("a@example.com", "auditor"),
              Principal("n@example.com", "supervisor")):
        assert board.snapshot(p) == [], p
    assert board.snapshot(Principal("s@example.com", "operator", agent_name="sato"))
