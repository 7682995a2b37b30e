"""Twilio Media Streams: the upgrade's signature and the JSON events of one stream.

The WebSocket upgrade carries ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the
account's auth token, over the full ``wss://`` URL the client connected to (query string
included; a WebSocket upgrade has no POST parameters). Events: ``connected``, ``start``
(``customParameters`` become call metadata; ``tracks``), ``media`` (base64 headerless
μ-law 8 kHz mono, one track per frame, ``timestamp`` in ms since the stream started),
``mark``/``dtmf`` (ignored), ``stop``. With both tracks, ``inbound`` (what Twilio hears from
the caller) is the customer and ``outbound`` the agent; the ``inbound_role`` custom
parameter swaps them (e.g. an outbound campaign whose stream sits on the agent's leg).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.engine.audio.wav_layout import to_pcm16
from rokuon.live.mixer import TrackMixer
from rokuon.live.session import LiveError, LiveSession
from rokuon.runtime import Runtime

RATE = 8000
MAX_FRAME_CHARS = 64 * 1024  # a media frame is ~300 characters; refuse absurd ones
_TRACKS = ("inbound", "outbound")
# customParameters that configure the stream, not the call
_CONTROL = {"inbound_role"}


def expected_signature(auth_token: str, url: str) -> str:
    mac = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def signature_ok(auth_token: str, url: str, signature: str | None) -> bool:
    if not auth_token or not signature:
        return False
    return hmac.compare_digest(expected_signature(auth_token, url), signature.strip())


def public_ws_url(public_url: str, scheme: str, host: str, path: str, query: str) -> str:
    """The URL Twilio signed: the public scheme/host when behind a proxy."""
    if public_url:
        base = public_url.rstrip("/")
        base = "wss://" + base.split("://", 1)[1] if base.startswith("https://") else base
        base = "ws://" + base.split("://", 1)[1] if base.startswith("http://") else base
    else:
        base = f"{'wss' if scheme in ('https', 'wss') else 'ws'}://{host}"
    return f"{base}{path}" + (f"?{query}" if query else "")


class TwilioStream:
    """Feeds one Media Stream's events into a LiveSession."""

    def __init__(self, rt: Runtime, actor: Principal,
                 on_start: Callable[[LiveSession], None] | None = None) -> None:
        self.rt, self.actor, self.on_start = rt, actor, on_start
        self.session: LiveSession | None = None
        self.mixer: TrackMixer | None = None
        self.track_index: dict[str, int] = {}
        self.stopped = False
        self.frames_seen = 0

    def handle_text(self, text: str) -> bool:
        """One frame; False once the stream has stopped."""
        if len(text) > MAX_FRAME_CHARS:
            raise LiveError(f"frame of {len(text)} characters; a Media Streams frame is small")
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LiveError(f"not JSON: {exc.msg} at character {exc.pos}") from exc
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            raise LiveError("a frame without an 'event'")
        event = msg["event"]
        if event == "start":
            self._start(msg.get("start"), msg.get("streamSid"))
        elif event == "media":
            self._media(msg.get("media"))
        elif event == "stop":
            self.stopped = True
            return False
        # connected, mark, dtmf and unknown events carry no audio
        return True

    def _start(self, start: Any, stream_sid: Any) -> None:
        if self.session is not None:
            raise LiveError("a second 'start' on one stream")
        if not isinstance(start, dict):
            raise LiveError("'start' without its 'start' object")
        fmt = start.get("mediaFormat") or {}
        if fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw" or \
                int(fmt.get("sampleRate", RATE)) != RATE:
            raise LiveError(f"unsupported media format {fmt}; Media Streams send "
                            "audio/x-mulaw at 8000 Hz")
        tracks = [t for t in start.get("tracks") or ["inbound"] if t in _TRACKS] or ["inbound"]
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise LiveError("'customParameters' must be an object")
        inbound_role = str(params.get("inbound_role", "customer"))
        if inbound_role not in ("customer", "agent"):
            raise LiveError(f"inbound_role must be customer or agent, not {inbound_role!r}")
        meta_in: dict[str, Any] = {k: v for k, v in params.items() if k not in _CONTROL}
        meta_in.setdefault("external_id", f"twilio:{start.get('callSid') or stream_sid}")
        if len(tracks) == 2:
            other = "agent" if inbound_role == "customer" else "customer"
            # channel 0 = outbound, channel 1 = inbound
            meta_in["channels"] = [other, inbound_role]
            self.track_index = {"outbound": 0, "inbound": 1}
        else:
            self.track_index = {tracks[0]: 0}
        try:
            meta = CallMetadata.model_validate(meta_in)
        except ValueError as exc:
            raise LiveError(f"customParameters: {str(exc).splitlines()[0]}") from exc
        self.session = LiveSession(self.rt, source="twilio", meta=meta, rate=RATE,
                                   channels=len(self.track_index), actor=self.actor,
                                   stream_id=str(stream_sid or "")[:200] or None)
        self.mixer = TrackMixer(len(self.track_index))
        if self.on_start:
            self.on_start(self.session)

    def _media(self, media: Any) -> None:
        if self.session is None or self.mixer is None:
            raise LiveError("'media' before 'start'")
        if not isinstance(media, dict):
            raise LiveError("'media' without its 'media' object")
        track = media.get("track", "inbound")
        if track not in self.track_index:
            return  # a track the stream did not announce
        try:
            raw = base64.b64decode(media.get("payload") or "", validate=True)
            at = int(media.get("timestamp", 0))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise LiveError(f"bad media frame: {exc}") from exc
        if at < 0:
            raise LiveError(f"negative media timestamp {at}")
        self.frames_seen += 1
        samples = to_pcm16(raw, "pcm_mulaw")
        self.session.write(self.mixer.add(self.track_index[track], at * RATE // 1000,
                                          np.asarray(samples)))

    def finish(self, reason: str | None = None) -> str | None:
        """The socket closed (after 'stop' or not): the call is stored. None when the
        stream never started."""
        if self.session is None or self.mixer is None:
            return None
        if not self.session.finished:
            self.session.write(self.mixer.flush())
        return self.session.finish(reason)
