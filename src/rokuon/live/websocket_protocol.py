"""The generic live WebSocket (FreeSWITCH mod_audio_fork, softphones, tests).

1. a text frame ``{"event": "start", "metadata": {…call metadata…}, "format":
   {"encoding": "pcm16" | "mulaw", "sample_rate": 8000…48000, "channels": 1 | 2}}``
   (``metadata.channels`` gives the roles of a stereo stream, default agent, customer);
   the server answers ``{"event": "started", "call_id": …}``;
2. binary frames of interleaved little-endian PCM16 (or μ-law bytes);
3. ``{"event": "stop"}``; the server answers ``{"event": "stored", "call_id": …}`` and
   closes. A socket that closes without ``stop`` is stored too (``live_note`` says so).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.audio.wav_layout import to_pcm16
from rokuon.live.session import LiveError, LiveSession
from rokuon.runtime import Runtime

MAX_BINARY_FRAME = 1024 * 1024


class GenericStream:
    def __init__(self, rt: Runtime, actor: Principal,
                 on_start: Callable[[LiveSession], None] | None = None) -> None:
        self.rt, self.actor, self.on_start = rt, actor, on_start
        self.session: LiveSession | None = None
        self.encoding = "pcm16"
        self._odd = b""

    def handle_text(self, text: str) -> dict[str, Any] | None:
        """A control frame; returns the reply to send (None for none). A 'stop' returns
        the stored reply after finishing the call."""
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LiveError(f"not JSON: {exc.msg} at character {exc.pos}") from exc
        if not isinstance(msg, dict):
            raise LiveError("a control frame must be a JSON object")
        event = msg.get("event")
        if event == "start":
            return self._start(msg)
        if event == "stop":
            call_id = self.finish()
            return {"event": "stored", "call_id": call_id}
        raise LiveError(f"unknown event {event!r} (expected start or stop)")

    def _start(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.session is not None:
            raise LiveError("a second 'start' on one stream")
        fmt = msg.get("format") or {}
        if not isinstance(fmt, dict):
            raise LiveError("'format' must be an object")
        self.encoding = str(fmt.get("encoding", "pcm16"))
        if self.encoding not in ("pcm16", "mulaw"):
            raise LiveError(f"encoding {self.encoding!r}; use pcm16 or mulaw")
        try:
            rate, channels = int(fmt.get("sample_rate", 8000)), int(fmt.get("channels", 1))
            meta = CallMetadata.model_validate(msg.get("metadata") or {})
        except (TypeError, ValueError) as exc:
            raise LiveError(f"start: {str(exc).splitlines()[0]}") from exc
        self.session = LiveSession(self.rt, source="ws", meta=meta, rate=rate,
                                   channels=channels, actor=self.actor)
        if self.on_start:
            self.on_start(self.session)
        return {"event": "started", "call_id": self.session.call_id}

    def handle_bytes(self, data: bytes) -> None:
        if self.session is None:
            raise LiveError("audio before 'start'")
        if len(data) > MAX_BINARY_FRAME:
            raise LiveError(f"binary frame of {len(data)} bytes; at most {MAX_BINARY_FRAME}")
        if self.encoding == "mulaw":
            data = to_pcm16(data, "pcm_mulaw").astype("<i2").tobytes()
        data = self._odd + data  # frames may split a sample: keep the remainder
        cut = len(data) - len(data) % self.session.frame_bytes
        self._odd = data[cut:]
        self.session.write(data[:cut])

    def finish(self, reason: str | None = None) -> str | None:
        if self.session is None:
            return None
        return self.session.finish(reason)
