"""Stream a recording to a live endpoint at real-time pace, as a telephony system would:
Twilio Media Streams (signed upgrade, μ-law 20 ms frames, both tracks for a stereo file),
the generic WebSocket (API token, PCM16 frames) or Asterisk AudioSocket (TCP, slin 20 ms
frames, one connection per channel). For demos, tests and the latency benchmark."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID as _UUID
from uuid import uuid4 as _uuid4

import av
import numpy as np

from rokuon.live.twilio import expected_signature

FRAME_S = 0.02
REFUSAL_WAIT_S = 0.3  # AudioSocket: a refused peer is closed within this


class ReplayError(Exception):
    """The file cannot be read or the endpoint refused the stream (the message says why)."""


def load_pcm16(path: Path, rate: int) -> np.ndarray:
    """(frames, channels) int16 at ``rate`` (channels as recorded, at most 2)."""
    try:
        with av.open(str(path)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise ReplayError(f"{path}: no audio stream")
            channels = stream.codec_context.channels
            if channels not in (1, 2):
                raise ReplayError(f"{path}: {channels} channels; replay sends 1 or 2")
            res = av.AudioResampler(format="s16", layout="mono" if channels == 1 else "stereo",
                                    rate=rate)
            parts = [f.to_ndarray().reshape(-1, channels)
                     for frame in container.decode(stream) for f in res.resample(frame)]
            parts += [f.to_ndarray().reshape(-1, channels) for f in res.resample(None)]
    except av.error.FFmpegError as exc:
        raise ReplayError(f"{path}: cannot decode ({exc})") from exc
    except OSError as exc:
        raise ReplayError(f"{path}: {exc.strerror or exc}") from exc
    return np.concatenate(parts) if parts else np.zeros((0, channels), dtype=np.int16)


def _mulaw(samples: np.ndarray) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples.astype(np.int16), 8000, format="RAW", subtype="ULAW")
    return buf.getvalue()


def _paced(n_frames: int, speed: float) -> Callable[[int], None]:
    t0 = time.monotonic()

    def wait(k: int) -> None:
        if speed > 0:
            delay = t0 + k * FRAME_S / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    return wait


def replay_twilio(path: Path, url: str, auth_token: str, *, speed: float = 1.0,
                  parameters: dict[str, str] | None = None,
                  channels: tuple[str, str] = ("agent", "customer")) -> dict[str, Any]:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    audio = load_pcm16(path, 8000)
    call_sid, stream_sid = f"CA{uuid.uuid4().hex}", f"MZ{uuid.uuid4().hex}"
    if audio.shape[1] == 2:  # the agent's channel is Twilio's outbound track
        tracks = {"outbound": channels.index("agent"), "inbound": channels.index("customer")}
    else:
        tracks = {"inbound": 0}
    sig = expected_signature(auth_token, url)
    per = int(8000 * FRAME_S)
    n = -(-len(audio) // per)
    try:
        with connect(url, additional_headers={"X-Twilio-Signature": sig},
                     open_timeout=10) as ws:
            seq = 1
            ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            ws.send(json.dumps({"event": "start", "sequenceNumber": str(seq),
                                "streamSid": stream_sid, "start": {
                                    "streamSid": stream_sid, "accountSid": "AC" + "0" * 32,
                                    "callSid": call_sid, "tracks": list(tracks),
                                    "customParameters": parameters or {},
                                    "mediaFormat": {"encoding": "audio/x-mulaw",
                                                    "sampleRate": 8000, "channels": 1}}}))
            wait = _paced(n, speed)
            for k in range(n):
                wait(k)
                for track, ch in tracks.items():
                    seq += 1
                    payload = _mulaw(audio[k * per:(k + 1) * per, ch])
                    ws.send(json.dumps({"event": "media", "sequenceNumber": str(seq),
                                        "streamSid": stream_sid, "media": {
                                            "track": track, "chunk": str(k + 1),
                                            "timestamp": str(int(k * FRAME_S * 1000)),
                                            "payload": base64.b64encode(payload).decode()}}))
            ws.send(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1),
                                "streamSid": stream_sid,
                                "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid}}))
            with contextlib.suppress(TimeoutError, WebSocketException):
                ws.recv(timeout=60)  # the server closes once the call is stored
    except InvalidStatus as exc:
        raise ReplayError(f"{urlsplit(url).netloc} refused the stream (HTTP "
                          f"{exc.response.status_code}): check ROKUON_TWILIO_AUTH_TOKEN and "
                          "the URL the server sees (ROKUON_PUBLIC_URL behind a proxy)") from exc
    except (OSError, WebSocketException) as exc:
        raise ReplayError(f"cannot stream to {url}: {exc}") from exc
    return {"protocol": "twilio", "external_id": f"twilio:{call_sid}",
            "stream_sid": stream_sid, "seconds": round(len(audio) / 8000, 3),
            "tracks": list(tracks)}


def replay_ws(path: Path, url: str, token: str, *, speed: float = 1.0,
              metadata: dict[str, Any] | None = None, rate: int = 16000) -> dict[str, Any]:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    audio = load_pcm16(path, rate)
    per = int(rate * FRAME_S)
    n = -(-len(audio) // per)
    try:
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                     open_timeout=10) as ws:
            ws.send(json.dumps({"event": "start", "metadata": metadata or {},
                                "format": {"encoding": "pcm16", "sample_rate": rate,
                                           "channels": int(audio.shape[1])}}))
            started = json.loads(ws.recv(timeout=30))
            if started.get("event") != "started":
                raise ReplayError(f"the server refused the stream: {started.get('error')}")
            wait = _paced(n, speed)
            for k in range(n):
                wait(k)
                ws.send(audio[k * per:(k + 1) * per].astype("<i2").tobytes())
            ws.send(json.dumps({"event": "stop"}))
            reply = json.loads(ws.recv(timeout=120))
    except InvalidStatus as exc:
        raise ReplayError(f"{urlsplit(url).netloc} refused the stream (HTTP "
                          f"{exc.response.status_code}): an API token with calls:write is "
                          "needed (ROKUON_API_TOKEN or --token)") from exc
    except (OSError, WebSocketException) as exc:
        raise ReplayError(f"cannot stream to {url}: {exc}") from exc
    if reply.get("event") != "stored":
        raise ReplayError(f"the server did not store the call: {reply.get('error', reply)}")
    return {"protocol": "ws", "call_id": reply["call_id"],
            "seconds": round(len(audio) / rate, 3)}


def _audiosocket_connect(host: str, port: int, leg_uuid: str) -> socket.socket:
    from rokuon.live.audiosocket_protocol import UUID, encode_frame

    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as exc:
        raise ReplayError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(encode_frame(UUID, _UUID(leg_uuid).bytes))
        sock.settimeout(REFUSAL_WAIT_S)  # a refused peer is closed at once
        closed = sock.recv(1) == b""
    except TimeoutError:
        closed = False
    except OSError:
        closed = True
    if closed:
        sock.close()
        raise ReplayError(f"{host}:{port} closed the connection at once: this address is "
                          "not in the server's audiosocket_allow (or it is not an AudioSocket "
                          "server)")
    sock.settimeout(30)
    return sock


def replay_audiosocket(path: Path, host_port: str, *, speed: float = 1.0,
                       uuid: str | None = None) -> dict[str, Any]:
    """Stream ``path`` as Asterisk's AudioSocket does: the UUID frame, 20 ms slin 8 kHz
    frames (320 bytes), a hangup. A stereo file is two connections, one per channel
    (channel 0 the agent), whose UUIDs differ only in the last hex digit: ``a`` the
    agent's leg, ``c`` the customer's (the server pairs them into one stereo call).
    Returns once the server has closed the connections, which it does after storing."""
    from rokuon.live.audiosocket_protocol import AUDIO, HANGUP, encode_frame, parse_host_port

    try:
        host, port = parse_host_port(host_port)
    except ValueError as exc:
        raise ReplayError(str(exc)) from exc
    try:
        base = str(_UUID(uuid)) if uuid else str(_uuid4())
    except ValueError:
        raise ReplayError(f"--uuid {uuid!r} is not a UUID (8-4-4-4-12 hex digits)") from None
    audio = load_pcm16(path, 8000)
    legs = [base] if audio.shape[1] == 1 else [base[:-1] + "a", base[:-1] + "c"]
    per = int(8000 * FRAME_S)
    n = -(-len(audio) // per)
    socks: list[socket.socket] = []
    try:
        for leg in legs:
            socks.append(_audiosocket_connect(host, port, leg))
        wait = _paced(n, speed)
        for k in range(n):
            wait(k)
            for ch, sock in enumerate(socks):
                sock.sendall(encode_frame(AUDIO, audio[k * per:(k + 1) * per, ch]
                                          .astype("<i2").tobytes()))
        for sock in socks:
            sock.sendall(encode_frame(HANGUP))
        for sock in socks:  # the server closes once the call is stored
            sock.settimeout(120)
            with contextlib.suppress(OSError):
                while sock.recv(4096):
                    pass
    except OSError as exc:
        raise ReplayError(f"the stream to {host}:{port} broke: {exc.strerror or exc}") from exc
    finally:
        for sock in socks:
            sock.close()
    out: dict[str, Any] = {"protocol": "audiosocket", "external_id": f"audiosocket:{legs[0]}",
                           "seconds": round(len(audio) / 8000, 3), "connections": len(legs)}
    out["uuids" if len(legs) == 2 else "uuid"] = legs if len(legs) == 2 else legs[0]
    return out
