"""Streaming transcription of live calls: per channel, cut at pauses, faster-whisper.

Each channel's audio is resampled to 16 kHz as it arrives (PyAV's resampler, the same as
batch decoding) and watched by an energy endpointer. While a party speaks, a *partial*
text of the utterance so far is decoded about once a second; when they pause
(``end_silence_s``) or talk for ``max_utterance_s``, the utterance is transcribed for
real (*final*: the batch channel transcription with its guards) and its segments are
handed to the session.

One worker thread per process does the decoding. Finals are queued and always done, in
order; a partial is only ever the latest one per channel and is skipped while finals
wait — under overload partials are dropped, never audio (the spool keeps every sample,
and the batch transcript at the end covers everything).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
import numpy as np

from rokuon.engine.asr.transcribe import BATCH_GAP_S, BATCH_MAX_S
from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment

log = logging.getLogger("rokuon.live")
FRAME = ENGINE_SAMPLE_RATE // 50  # 20 ms


class Engine(Protocol):
    def transcribe_utterances(self, clips: list[tuple[np.ndarray, str, int | None, float]]
                              ) -> list[list[Segment]]: ...

    def hotwords_for(self, role: str) -> str | None: ...

    def partial_text(self, samples: np.ndarray) -> str: ...


@dataclass
class Utterance:
    start: int  # sample index (16 kHz) in the call
    samples: np.ndarray
    ended_at: float  # monotonic time its last audio arrived (latency reference)


class Endpointer:
    """Frames of 20 ms; speech when louder than max(floor + margin, absolute floor).
    The noise floor follows quiet frames down at once and up slowly."""

    def __init__(self, *, margin_db: float = 12.0, min_db: float = -48.0,
                 end_silence_s: float = 0.5, min_speech_s: float = 0.25,
                 max_utterance_s: float = 15.0, preroll_s: float = 0.2) -> None:
        self.margin_db, self.min_db = margin_db, min_db
        self.end_frames = int(end_silence_s * 50)
        self.min_frames = int(min_speech_s * 50)
        self.max_samples = int(max_utterance_s * ENGINE_SAMPLE_RATE)
        self.preroll = int(preroll_s * ENGINE_SAMPLE_RATE)
        self.floor_db = -70.0
        self._pending = np.zeros(0, dtype=np.float32)  # < one frame, not yet judged
        self._recent = np.zeros(0, dtype=np.float32)  # pre-roll before speech
        self.position = 0  # samples judged so far
        self.utt: list[np.ndarray] = []
        self.utt_start = 0
        self.speech_frames = 0
        self.silence_frames = 0

    @property
    def in_utterance(self) -> bool:
        return bool(self.utt)

    def current(self) -> tuple[int, np.ndarray] | None:
        if not self.utt:
            return None
        return self.utt_start, np.concatenate(self.utt)

    def push(self, x: np.ndarray, now: float) -> list[Utterance]:
        out: list[Utterance] = []
        x = np.concatenate([self._pending, x]) if len(self._pending) else x
        n = len(x) // FRAME * FRAME
        self._pending = x[n:]
        for i in range(0, n, FRAME):
            frame = x[i:i + FRAME]
            db = 10 * np.log10(float(np.mean(frame * frame)) + 1e-12)
            speech = db > max(self.floor_db + self.margin_db, self.min_db)
            if not speech:
                self.floor_db = min(db, self.floor_db + 0.02) if db > self.floor_db else db
            if self.utt:
                self.utt.append(frame)
                if speech:
                    self.speech_frames += 1
                    self.silence_frames = 0
                else:
                    self.silence_frames += 1
                length = sum(len(u) for u in self.utt)
                if self.silence_frames >= self.end_frames or length >= self.max_samples:
                    if self.speech_frames >= self.min_frames:
                        out.append(Utterance(self.utt_start, np.concatenate(self.utt), now))
                    self.utt = []
            elif speech:
                pre = self._recent[-self.preroll:] if self.preroll else self._recent[:0]
                self.utt = [pre, frame] if len(pre) else [frame]
                self.utt_start = self.position + i - len(pre)
                self.speech_frames, self.silence_frames = 1, 0
            if not self.utt:
                self._recent = np.concatenate([self._recent, frame])[-self.preroll or 0:]
        self.position += n
        return out

    def flush(self, now: float) -> list[Utterance]:
        if self.utt and self.speech_frames >= self.min_frames:
            u = Utterance(self.utt_start, np.concatenate(self.utt), now)
            self.utt = []
            return [u]
        self.utt = []
        return []


class ChannelFeed:
    """One channel of one live call: resampling, endpointing, partial scheduling."""

    def __init__(self, call_id: str, channel: int | None, role: str, rate: int) -> None:
        self.call_id, self.channel, self.role, self.rate = call_id, channel, role, rate
        self.endpointer = Endpointer()
        self._resampler = av.AudioResampler(format="flt", layout="mono",
                                            rate=ENGINE_SAMPLE_RATE)
        self._pts = 0
        self.last_partial_len = 0

    def to_16k(self, pcm: np.ndarray) -> np.ndarray:
        if self.rate == ENGINE_SAMPLE_RATE:
            return pcm.astype(np.float32) / 32768.0
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1).astype(np.int16),
                                           format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += len(pcm)
        parts = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


@dataclass
class LiveText:
    """What the transcriber hands back for a call."""

    kind: str  # "partial" | "final"
    call_id: str
    speaker: str
    channel: int | None
    start: float
    end: float
    text: str
    latency_s: float | None = None  # finals: from the utterance's last audio to the text
    segments: list[Segment] = field(default_factory=list)


class LiveTranscriber:
    """The process's one decoding thread for all live calls."""

    PARTIAL_EVERY_S = 1.0
    # finals have been arriving this late: partials (a full decode each) are skipped
    PARTIALS_WHILE_BEHIND_S = 1.5

    def __init__(self, engine_factory: Callable[[], Engine],
                 on_text: Callable[[LiveText], None]) -> None:
        self._engine_factory = engine_factory
        self.on_text = on_text
        self._finals: deque[tuple[ChannelFeed, Utterance]] = deque()
        self._partials: dict[tuple[str, int | None], tuple[ChannelFeed, int, np.ndarray]] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._busy_calls: dict[str, int] = {}
        self._feeds: dict[str, list[ChannelFeed]] = {}
        self.stats: dict[str, Any] = {"finals": 0, "partials": 0, "partials_dropped": 0,
                                      "latencies": []}

    def start(self) -> LiveTranscriber:
        self._thread = threading.Thread(target=self._run, name="live-asr", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def feed(self, feed: ChannelFeed, pcm: np.ndarray, *, final: bool = False) -> None:
        """Audio of one channel (int16 at the call's rate); ``final``: the stream ended."""
        now = time.monotonic()
        with self._cv:
            feeds = self._feeds.setdefault(feed.call_id, [])
            if feed not in feeds:
                feeds.append(feed)
            if final:
                self._feeds.pop(feed.call_id, None) if all(
                    f is feed for f in feeds) else feeds.remove(feed)
        x = feed.to_16k(pcm) if len(pcm) else np.zeros(0, np.float32)
        done = feed.endpointer.push(x, now)
        if final:
            done += feed.endpointer.flush(now)
        with self._cv:
            for u in done:
                self._finals.append((feed, u))
                feed.last_partial_len = 0
            cur = feed.endpointer.current()
            key = (feed.call_id, feed.channel)
            if cur is not None and len(cur[1]) - feed.last_partial_len >= \
                    self.PARTIAL_EVERY_S * ENGINE_SAMPLE_RATE:
                if key in self._partials:
                    self.stats["partials_dropped"] += 1  # superseded before it was decoded
                self._partials[key] = (feed, cur[0], cur[1])
                feed.last_partial_len = len(cur[1])
            elif cur is None:
                self._partials.pop(key, None)
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return not self._finals and not self._partials and not self._busy

    _busy = False

    def _next(self) -> tuple[str, Any] | None:
        with self._cv:
            while not self._stop and not self._finals and not self._partials:
                self._cv.wait(0.5)
            if self._stop and not self._finals:
                return None
            self._busy = True
            if self._finals:
                batch = self._batch()
                for f, _ in batch:
                    self._busy_calls[f.call_id] = self._busy_calls.get(f.call_id, 0) + 1
                return "finals", batch
            key = next(iter(self._partials))
            return "partial", self._partials.pop(key)

    def _batch(self) -> list[tuple[ChannelFeed, Utterance]]:
        """The oldest waiting utterance and those after it that share its hotword group,
        as many as fit one decode window."""
        first = self._finals.popleft()
        batch, total = [first], len(first[1].samples) / ENGINE_SAMPLE_RATE + BATCH_GAP_S
        group = self._group(first[0])
        rest: deque[tuple[ChannelFeed, Utterance]] = deque()
        while self._finals:
            item = self._finals.popleft()
            dur = len(item[1].samples) / ENGINE_SAMPLE_RATE + BATCH_GAP_S
            if self._group(item[0]) == group and total + dur <= BATCH_MAX_S:
                batch.append(item)
                total += dur
            else:
                rest.append(item)
        self._finals = rest
        return batch

    def _run(self) -> None:
        try:
            self._engine = self._engine_factory()  # loaded before the first batch forms
        except Exception:  # noqa: BLE001 - retried at the next job
            log.exception("loading the model for live transcription failed")
        while True:
            job = self._next()
            if job is None:
                return
            try:
                engine = self._engine = self._engine or self._engine_factory()
                kind, item = job
                if kind == "finals":
                    self._finals_done(engine, item)
                else:
                    self._partial(engine, *item)
            except Exception:  # noqa: BLE001 - one bad utterance must not stop live ASR
                log.exception("live transcription of one utterance failed")
            finally:
                with self._cv:
                    self._busy = False
                    self._busy_calls.clear()

    def _group(self, feed: ChannelFeed) -> str | None:
        return self._engine.hotwords_for(feed.role) if self._engine else None

    def _finals_done(self, engine: Engine, batch: list[tuple[ChannelFeed, Utterance]]
                     ) -> None:
        t0, c0 = time.monotonic(), time.process_time()
        results = engine.transcribe_utterances(
            [(u.samples, feed.role, feed.channel, u.start / ENGINE_SAMPLE_RATE)
             for feed, u in batch])
        now = time.monotonic()
        self.stats.setdefault("decode_s", []).append(
            (len(batch), round(sum(len(u.samples) for _, u in batch) / ENGINE_SAMPLE_RATE, 1),
             round(now - t0, 2), round(time.process_time() - c0, 2)))
        self.stats["batches"] = self.stats.get("batches", 0) + 1
        for (feed, u), segments in zip(batch, results, strict=True):
            offset = u.start / ENGINE_SAMPLE_RATE
            latency = now - u.ended_at
            self.stats["finals"] += 1
            self.stats["latencies"].append(latency)
            text = "".join(s.text for s in segments).strip()
            self.on_text(LiveText("final", feed.call_id, feed.role, feed.channel, offset,
                                  offset + len(u.samples) / ENGINE_SAMPLE_RATE, text,
                                  latency, segments))

    def pending(self, call_id: str) -> bool:
        """Audio of the call not yet final (queued, being decoded, or being spoken)."""
        with self._cv:
            return self._busy_calls.get(call_id, 0) > 0 or any(
                f.call_id == call_id for f, _ in self._finals) or any(
                f.endpointer.in_utterance for f in self._feeds.get(call_id, []))

    def _partial(self, engine: Engine, feed: ChannelFeed, start: int,
                 samples: np.ndarray) -> None:
        with self._cv:
            lat = self.stats["latencies"]
            behind = bool(lat) and lat[-1] > self.PARTIALS_WHILE_BEHIND_S
            if self._finals or behind:  # overloaded: finals first, this partial is dropped
                self.stats["partials_dropped"] += 1
                return
        text = engine.partial_text(samples)
        self.stats["partials"] += 1
        if text:
            offset = start / ENGINE_SAMPLE_RATE
            self.on_text(LiveText("partial", feed.call_id, feed.role, feed.channel, offset,
                                  offset + len(samples) / ENGINE_SAMPLE_RATE, text))
