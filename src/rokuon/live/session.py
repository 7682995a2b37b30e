"""One live call: metadata, an encrypted spool, pauses; at the end, a normal call.

A live call is a call: it has its call id from the first frame, its metadata, channel
roles and purposes go through the same validation as an upload, its audio is encrypted
with its own data key, and when the stream stops it is ingested under that id and goes
through the batch pipeline (final transcript, analysis, index)."""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.live.spool import Spool, read_spool
from rokuon.runtime import Runtime
from rokuon.store.blobcrypt import new_dek
from rokuon.store.keys import WrappedKey
from rokuon.store.models import LiveCall, LiveState, new_id, utcnow

log = logging.getLogger("rokuon.live")


class LiveError(Exception):
    """A live stream cannot go on (the message says why, in one line)."""


def spool_dir(rt: Runtime) -> Path:
    return Path(rt.settings.home) / "live"


def wav_header(rate: int, channels: int, frames: int) -> bytes:
    data = frames * channels * 2
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data, b"WAVE", b"fmt ", 16, 1,
                       channels, rate, rate * channels * 2, channels * 2, 16, b"data", data)


class LiveSession:
    """Feed it interleaved PCM16 (``write``); ``finish`` makes it a call."""

    def __init__(self, rt: Runtime, *, source: str, meta: CallMetadata, rate: int,
                 channels: int, actor: Principal, stream_id: str | None = None) -> None:
        if channels not in (1, 2):
            raise LiveError(f"{channels} channels; a live call has 1 (mixed) or 2 "
                            "(agent/customer)")
        if not 8000 <= rate <= 48000:
            raise LiveError(f"sample rate {rate} Hz; live audio must be 8000–48000 Hz")
        self.rt, self.source, self.meta, self.actor = rt, source, meta, actor
        self.rate, self.channels = rate, channels
        self.call_id = new_id()
        self.frame_bytes = 2 * channels
        self._lock = threading.Lock()
        self._paused_since: float | None = None
        self.paused: list[list[float | None]] = []
        self.frames = 0
        self.finished = False
        # listeners of the audio as kept (paused stretches as silence): (pcm, ended)
        self.taps: list[Callable[[bytes, bool], None]] = []
        dek = new_dek()
        wrapped = rt.keys.wrap(dek)
        self.spool = Spool(spool_dir(rt) / f"{self.call_id}.spool", dek, rate * self.frame_bytes)
        with rt.db.session() as s:
            s.add(LiveCall(id=self.call_id, source=source, stream_id=stream_id,
                           state=LiveState.RECEIVING,
                           call_metadata=meta.model_dump(mode="json", exclude_none=True),
                           sample_rate=rate, channels=channels,
                           wrapped_key=wrapped.to_json(), spool=self.spool.path.name,
                           paused=[], received_s=0.0))
        self._saved_at = 0.0

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def write(self, pcm: bytes) -> None:
        """Append interleaved PCM16 frames (a partial frame is an error of the sender)."""
        if len(pcm) % self.frame_bytes:
            raise LiveError(f"{len(pcm)} bytes is not a whole number of "
                            f"{self.channels}-channel 16-bit frames")
        with self._lock:
            if self.finished:
                raise LiveError("the stream has already stopped")
            if self._paused_since is not None:
                pcm = bytes(len(pcm))  # paused: keep the time, never the sound
            self.spool.write(pcm)
            self.frames += len(pcm) // self.frame_bytes
            self._tap(pcm, False)
            if self.seconds - self._saved_at >= 5.0:
                self._save_progress()

    def _tap(self, pcm: bytes, ended: bool) -> None:
        for tap in self.taps:
            try:
                tap(pcm, ended)
            except Exception:  # noqa: BLE001 - live extras never cost audio
                log.exception("a live audio listener failed")

    def _save_progress(self) -> None:
        self._saved_at = self.seconds
        with self.rt.db.session() as s:
            row = s.get(LiveCall, self.call_id)
            if row is not None:
                row.received_s = round(self.seconds, 3)
                row.paused = [list(p) for p in self.paused]

    def pause(self) -> bool:
        """Stop keeping sound (card entry, a private moment) until ``resume``; the
        silence keeps the timeline. False when it was already paused."""
        with self._lock:
            if self._paused_since is not None or self.finished:
                return False
            self._paused_since = self.seconds
            self.paused.append([round(self.seconds, 3), None])
            self._save_progress()
            return True

    def resume(self) -> bool:
        with self._lock:
            if self._paused_since is None or self.finished:
                return False
            self._paused_since = None
            self.paused[-1][1] = round(self.seconds, 3)
            self._save_progress()
            return True

    @property
    def is_paused(self) -> bool:
        return self._paused_since is not None

    def finish(self, reason: str | None = None) -> str:
        """The stream stopped: the spool becomes a call (same id). Returns the call id."""
        with self._lock:
            if self.finished:
                return self.call_id
            self.finished = True
            if self._paused_since is not None:
                self.paused[-1][1] = round(self.seconds, 3)
            self.spool.finish()
            self._tap(b"", True)
        with self.rt.db.session() as s:
            row = s.get(LiveCall, self.call_id)
            assert row is not None
            row.received_s, row.paused = round(self.seconds, 3), [list(p) for p in self.paused]
            row.state, row.ended_at = LiveState.FINISHING, utcnow()
        return finish_live_call(self.rt, self.call_id, self.actor, reason=reason)

    def abandon(self) -> None:
        """The process is going away mid-call: leave the spool for recovery."""
        with self._lock:
            self.spool.close()


def _pcm_chunks(path: Path, dek: bytes, rate: int, channels: int,
                frame_bytes: int) -> Iterator[bytes]:
    size = sum(len(c) for c in read_spool(path, dek))
    size -= size % frame_bytes
    yield wav_header(rate, channels, size // frame_bytes)
    left = size
    for chunk in read_spool(path, dek):
        if left <= 0:
            break
        yield chunk[:left]
        left -= len(chunk)


def finish_live_call(rt: Runtime, live_id: str, actor: Principal, *,
                     reason: str | None = None) -> str:
    """Ingest the spool of ``live_id`` as the call ``live_id`` (idempotent: a call that
    already exists is only marked done). The spool is deleted once the call holds the
    audio; on failure it is kept and the row says why."""
    from rokuon.calls.ingest import IngestError, ingest_stream
    from rokuon.store.models import Call

    with rt.db.session() as s:
        row = s.get(LiveCall, live_id)
        if row is None:
            raise LiveError(f"no live call {live_id}")
        meta_json: dict[str, Any] = dict(row.call_metadata)
        rate, channels, spool_name = row.sample_rate, row.channels, row.spool
        wrapped, paused, source = row.wrapped_key, list(row.paused), row.source
        exists = s.get(Call, live_id) is not None
    path = spool_dir(rt) / spool_name
    if not exists:
        dek = rt.keys.unwrap(WrappedKey.from_json(wrapped))
        meta_json.setdefault("live_source", source)
        if paused:
            meta_json["paused_spans"] = paused
        if reason:
            meta_json["live_note"] = reason
        meta = CallMetadata.model_validate(meta_json)
        try:
            res = ingest_stream(rt, _pcm_chunks(path, dek, rate, channels, 2 * channels),
                                name=f"live-{source}-{live_id}.wav", meta=meta,
                                source="live", actor=actor, call_id=live_id,
                                channels=meta.channels)
            if res.status == "duplicate":
                reason = f"same audio as call {res.duplicate_of}; not stored twice"
        except (IngestError, OSError) as exc:
            with rt.db.session() as s:
                row = s.get(LiveCall, live_id)
                assert row is not None
                row.state, row.state_reason = LiveState.FAILED, str(exc)[:2000]
            raise LiveError(f"live call {live_id} could not be stored: {exc}") from exc
    with rt.db.session() as s:
        row = s.get(LiveCall, live_id)
        assert row is not None
        row.state = LiveState.DONE
        row.state_reason = reason
    path.unlink(missing_ok=True)
    return live_id
