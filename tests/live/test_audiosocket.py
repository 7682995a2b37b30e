"""Asterisk AudioSocket: the framing (split reads, truncated frames, unknown kinds, error
codes), the settings, and the server over real TCP sockets into a real runtime — the
allow-list, a stereo call replayed as two paired legs and a mono one stored with their
audio bit for bit, bad input kept with a note, the longest-call guard, and a call cut
off by a shutdown stored at the next start."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.cli.main import app as cli
from rokuon.config import Settings
from rokuon.live.audiosocket import AudioSocketServer
from rokuon.live.audiosocket_protocol import (
    AUDIO,
    DTMF,
    ERROR,
    HANGUP,
    UUID,
    Frame,
    FrameParser,
    ProtocolError,
    describe_error,
    encode_frame,
    kind_rates,
    parse_host_port,
    parse_uuid,
)
from rokuon.live.hub import LiveHub
from rokuon.live.replay import ReplayError, replay_audiosocket
from rokuon.store.keys import WrappedKey
from rokuon.store.models import Call, CallStatus, LiveCall, LiveState, Party, PipelineJob
from rokuon.web.app import create_app

CALLS = Path(__file__).parents[1] / "data" / "calls"
CALL = CALLS / "01_billing_inquiry" / "stereo.wav"


def _tone(freq: float, seconds: float, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")


def _audio_frames(pcm: np.ndarray, kind: int = AUDIO, per: int = 160) -> list[bytes]:
    return [encode_frame(kind, pcm[i:i + per].astype("<i2").tobytes())
            for i in range(0, len(pcm), per)]


def _uuid() -> str:
    """A random UUID that is not an agent/customer leg (last hex digit not a or c)."""
    return str(uuid.uuid4())[:-1] + "0"


def _uuid_frame(u: str) -> bytes:
    return encode_frame(UUID, uuid.UUID(u).bytes)


# ---- framing -----------------------------------------------------------------------

def test_frames_split_anywhere_are_reassembled() -> None:
    u = str(uuid.uuid4())
    frames = [Frame(UUID, uuid.UUID(u).bytes), Frame(AUDIO, bytes(range(256)) * 2),
              Frame(DTMF, b"5"), Frame(0x42, b"xyz"), Frame(ERROR, b"\x01"), Frame(HANGUP, b"")]
    wire = b"".join(encode_frame(f.kind, f.payload) for f in frames)
    assert wire.endswith(b"\x00\x00\x00") and wire[:3] == b"\x01\x00\x10"
    for step in (1, 2, 3, 7, 100, len(wire)):  # byte by byte … all in one read
        p = FrameParser()
        got = [f for i in range(0, len(wire), step) for f in p.feed(wire[i:i + step])]
        assert got == frames, step
        assert p.pending == 0 and p.truncated() is None
    assert parse_uuid(frames[0].payload) == u and parse_uuid(u.encode()) == u
    with pytest.raises(ProtocolError, match="not a UUID"):
        parse_uuid(b"\x01\x02")
    with pytest.raises(ValueError, match="65535"):
        encode_frame(AUDIO, bytes(70000))


def test_a_truncated_frame_is_reported_with_what_arrived() -> None:
    p = FrameParser()
    assert p.feed(encode_frame(AUDIO, b"\x01\x00" * 160)[:103]) == []
    assert p.pending == 103
    frame, announced = p.truncated() or (None, 0)
    assert frame == Frame(AUDIO, b"\x01\x00" * 50) and announced == 320
    assert p.truncated() is None
    p.feed(b"\x10\x01")  # a header cut short
    assert p.truncated() == (Frame(AUDIO, b""), -1)


def test_error_codes_and_settings() -> None:
    assert describe_error(b"\x01") == "the calling party hung up (error 0x01)"
    assert describe_error(b"\x06") == ("a frame-forwarding error, a memory allocation error "
                                       "(error 0x06)")
    assert "unknown code bits 0x10" in describe_error(b"\x11")
    assert describe_error(b"") == "an error without a code"
    rates = kind_rates({})
    assert rates[0x10] == 8000 and rates[0x11] == 12000 and rates[0x18] == 192000
    old = kind_rates({"0x11": 16000, "0x17": 0})  # an older header's numbering
    assert old[0x11] == 16000 and 0x17 not in old and old[0x12] == 16000
    for bad in ({"0x03": 8000}, {"0xff": 8000}, {"sixteen": 16000}, {"0x12": 100}):
        with pytest.raises(ValueError):
            kind_rates(bad)
    assert parse_host_port("[::1]:9092") == ("::1", 9092)
    assert parse_host_port("0.0.0.0:9092") == ("0.0.0.0", 9092)
    for bad_addr in ("9092", "host:", "host:99999", ":9092"):
        with pytest.raises(ValueError):
            parse_host_port(bad_addr)
    s = Settings(audiosocket_listen="127.0.0.1:9092", audiosocket_allow="10.0.0.0/8, ::1",
                 audiosocket_kind_rates={"0x11": 16000})
    assert s.audiosocket_allow == ["10.0.0.0/8", "::1"]
    assert Settings().audiosocket_allow == ["127.0.0.1/32", "::1/128"]
    assert Settings().audiosocket_listen == ""  # off unless set
    for field, value in (("audiosocket_listen", "nope"), ("audiosocket_allow", ["10.0.0.300"]),
                         ("audiosocket_kind_rates", {"0x01": 8000})):
        with pytest.raises(ValueError, match=field):
            Settings(**{field: value})


# ---- the server over real sockets ----------------------------------------------------

@pytest.fixture
def servers(installation) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``make(**settings)`` → a started server on an ephemeral loopback port (with its
    own hub, no transcription) for the test's runtime."""
    _, rt = installation
    started: list[tuple[AudioSocketServer, LiveHub]] = []

    def make(allow: list[str] | None = None, **settings: Any) -> AudioSocketServer:
        for k, v in settings.items():
            setattr(rt.settings, k, v)
        hub = LiveHub(rt, transcribe=False).start()
        srv = AudioSocketServer(rt, hub, listen="127.0.0.1:0", allow=allow).start()
        started.append((srv, hub))
        return srv

    yield rt, make
    for srv, hub in started:
        srv.stop()
        hub.stop()


def _send(addr: tuple[str, int], chunks: list[bytes], *, wait_close: bool = True) -> bool:
    """Send ``chunks`` on one connection; True when the server then closed it (it does
    once the call is stored)."""
    with socket.create_connection(addr, timeout=30) as sock:
        try:
            for c in chunks:
                sock.sendall(c)
            if not wait_close:
                return False
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed it early (a refused peer, the longest-call guard)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        return True


def _stored(rt, external_id: str) -> tuple[np.ndarray, Call]:  # type: ignore[no-untyped-def]
    """The stored call and its audio (waiting a little: a part of a long call is stored
    in the background)."""
    deadline = time.monotonic() + 30
    while True:
        with rt.db.session() as s:
            call = s.scalars(select(Call).where(Call.external_id == external_id)).first()
            if call is not None:
                s.expunge(call)
                break
        assert time.monotonic() < deadline, f"no call {external_id}"
        time.sleep(0.05)
    data = rt.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key))
    return sf.read(io.BytesIO(data), dtype="int16", always_2d=True)[0], call


def test_a_peer_outside_the_allow_list_is_closed_and_nothing_is_stored(servers, caplog) -> None:  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make(allow=["10.9.9.0/24", "fd00::/8"])
    u = _uuid()
    with caplog.at_level(logging.WARNING, logger="rokuon.live"):
        assert _send(srv.address, [_uuid_frame(u), *_audio_frames(_tone(300, 1.0))])
        with pytest.raises(ReplayError, match="audiosocket_allow"):
            replay_audiosocket(CALL, "{}:{}".format(*srv.address), speed=0)
    assert "connection from 127.0.0.1 refused: not in audiosocket_allow" in caplog.text
    assert srv.allowed("10.9.9.7") and srv.allowed("::ffff:10.9.9.7") and srv.allowed("fd00::1")
    assert not srv.allowed("127.0.0.1") and not srv.allowed("junk")
    with rt.db.session() as s:
        assert s.scalars(select(LiveCall)).all() == [] and s.scalars(select(Call)).all() == []


def test_a_stereo_call_replayed_as_two_legs_is_stored_through_the_app(installation, caplog) -> None:  # type: ignore[no-untyped-def]
    """`rokuon replay --to audiosocket` into the server the app's lifespan starts."""
    _, rt = installation
    rt.settings.audiosocket_listen = "127.0.0.1:0"
    original, rate = sf.read(CALL, dtype="int16", always_2d=True)
    base = str(uuid.uuid4())
    with caplog.at_level(logging.INFO, logger="rokuon.live"), \
            TestClient(create_app(rt, start_workers=False)) as client:
        host_port = "{}:{}".format(*client.app.state.audiosocket.address)
        r = CliRunner().invoke(cli, ["replay", str(CALL), "--to", "audiosocket", host_port,
                                     "--speed", "0", "--uuid", base, "--json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        bad = CliRunner().invoke(cli, ["replay", str(CALL), "--to", "audiosocket", host_port,
                                       "--metadata", '{"agent": "x"}'])
        assert bad.exit_code != 0 and "carries no metadata" in bad.output
    agent_leg, customer_leg = base[:-1] + "a", base[:-1] + "c"
    assert out["uuids"] == [agent_leg, customer_leg] and out["connections"] == 2
    assert out["external_id"] == f"audiosocket:{agent_leg}"
    audio, call = _stored(rt, out["external_id"])
    assert rate == 8000 and audio.shape == original.shape
    assert np.array_equal(audio, original)  # slin on the wire: bit for bit, channels kept
    assert call.source == "live" and abs(call.duration_s - len(original) / 8000) < 0.01
    assert call.extra_metadata["live_source"] == "audiosocket"
    assert call.extra_metadata["audiosocket_uuids"] == {"agent": agent_leg,
                                                        "customer": customer_leg}
    assert "live_note" not in call.extra_metadata  # a clean end: hangup on both legs
    with rt.db.session() as s:
        roles = {p.channel: p.role for p in s.scalars(select(Party).where(
            Party.call_id == call.id))}
        assert s.scalars(select(PipelineJob).where(PipelineJob.call_id == call.id)).first()
        assert s.get(LiveCall, call.id).state == LiveState.DONE
    assert roles == {0: "agent", 1: "customer"}
    assert not list((rt.settings.home / "live").glob("*.spool"))
    assert "faster than real time" in caplog.text  # --speed 0: said, and all of it kept


def test_a_mono_stream_and_a_reconnect_with_the_same_uuid(servers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make()
    mono = tmp_path / "mono.wav"
    original = sf.read(CALLS / "02_consent_refused" / "mono.wav", dtype="int16")[0]
    assert original.ndim == 1
    sf.write(mono, original, 8000, subtype="PCM_16")
    other = tmp_path / "other.wav"
    sf.write(other, original[:8000], 8000, subtype="PCM_16")
    u = "0f0e0d0c-0b0a-4908-8706-050403020101"
    first = replay_audiosocket(mono, "{}:{}".format(*srv.address), speed=0, uuid=u)
    again = replay_audiosocket(other, "{}:{}".format(*srv.address), speed=0, uuid=u)
    assert first["external_id"] == f"audiosocket:{u}" and first["connections"] == 1
    audio, call = _stored(rt, f"audiosocket:{u}")
    assert audio.shape == (len(original), 1) and np.array_equal(audio[:, 0], original)
    assert call.channels == 1 and call.extra_metadata["audiosocket_peer"] == "127.0.0.1"
    # the same UUID again (a reconnect) is its own call, never dropped as a duplicate
    assert again["external_id"] == first["external_id"]
    _, call2 = _stored(rt, f"audiosocket:{u}#2")
    assert call2.id != call.id
    # an agent leg whose customer leg never comes: a mono call that says which leg it is
    lone = _uuid()[:-1] + "a"
    sf.write(other, original[8000:16000], 8000, subtype="PCM_16")
    replay_audiosocket(other, "{}:{}".format(*srv.address), speed=0, uuid=lone)
    audio, call3 = _stored(rt, f"audiosocket:{lone}")
    assert call3.channels == 1 and call3.extra_metadata["audiosocket_leg"] == "agent"
    assert np.array_equal(audio[:, 0], original[8000:16000])


def test_a_leg_that_hangs_up_first_leaves_silence_and_loses_nothing(servers) -> None:  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make()
    base = _uuid()
    agent, customer = _tone(300, 3.0), _tone(700, 1.2)
    a_frames, c_frames = _audio_frames(agent), _audio_frames(customer)
    with socket.create_connection(srv.address, timeout=30) as a, \
            socket.create_connection(srv.address, timeout=30) as c:
        a.sendall(_uuid_frame(base[:-1] + "a"))
        c.sendall(_uuid_frame(base[:-1] + "c"))
        for k, frame in enumerate(a_frames):  # as fast as possible, interleaved
            a.sendall(frame)
            if k < len(c_frames):
                c.sendall(c_frames[k])
            elif k == len(c_frames):
                c.sendall(encode_frame(HANGUP))  # the customer hangs up first
        a.sendall(encode_frame(HANGUP))
        for sock in (c, a):
            while sock.recv(4096):
                pass
    audio, call = _stored(rt, f"audiosocket:{base[:-1]}a")
    assert audio.shape == (len(agent), 2) and np.array_equal(audio[:, 0], agent)
    assert np.array_equal(audio[:len(customer), 1], customer)
    assert not audio[len(customer):, 1].any()
    assert "live_note" not in call.extra_metadata


def test_a_leg_that_stalls_gets_silence_and_its_audio_is_kept(servers) -> None:  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make()
    base = _uuid()
    agent, before, after = _tone(300, 4.0), _tone(700, 0.5), _tone(900, 0.5)
    a_frames = _audio_frames(agent)
    with socket.create_connection(srv.address, timeout=30) as a, \
            socket.create_connection(srv.address, timeout=30) as c:
        a.sendall(_uuid_frame(base[:-1] + "a"))
        c.sendall(_uuid_frame(base[:-1] + "c"))
        for k, frame in enumerate(_audio_frames(before)):
            a.sendall(a_frames[k])
            c.sendall(frame)
        time.sleep(0.3)  # both legs attached: one stereo call
        a.sendall(b"".join(a_frames[25:]))  # the agent goes on, the customer is silent
        time.sleep(3.0)  # > STALL_S
        c.sendall(b"".join(_audio_frames(after)) + encode_frame(HANGUP))
        a.sendall(encode_frame(HANGUP))
        for sock in (c, a):
            while sock.recv(4096):
                pass
    audio, call = _stored(rt, f"audiosocket:{base[:-1]}a")
    assert audio.shape[0] >= len(agent) and np.array_equal(audio[:len(agent), 0], agent)
    cust = audio[:, 1]
    assert np.array_equal(cust[:4000], before)  # in place
    start = int(np.flatnonzero(cust[4000:])[0]) + 4000 - 1  # (the tone starts at 0)
    assert start >= 8000 and np.array_equal(cust[start:start + 4000], after)
    assert "the customer leg fell behind" in call.extra_metadata["live_note"]


def test_bad_input_is_kept_with_a_note(servers, caplog) -> None:  # type: ignore[no-untyped-def]
    """Unknown kinds skipped, DTMF ignored (never logged), an error frame in the note, a
    stream cut inside a frame: every whole sample that arrived is stored."""
    rt, make = servers
    srv = make()
    u = _uuid()
    pcm = _tone(400, 1.5)
    frames = _audio_frames(pcm[:8000])
    frames[10:10] = [encode_frame(0x42, b"?" * 9), encode_frame(DTMF, b"9"),
                     encode_frame(0x42, b"")]
    tail = encode_frame(AUDIO, pcm[8000:].tobytes())  # 4000 samples, cut after 1001 bytes
    with caplog.at_level(logging.WARNING, logger="rokuon.live"):
        assert _send(srv.address, [_uuid_frame(u), *frames, encode_frame(ERROR, b"\x01"),
                                   tail[:3 + 1001]])
        # the first frame must be the UUID: closed, nothing stored
        assert _send(srv.address, _audio_frames(pcm[:800]))
    audio, call = _stored(rt, f"audiosocket:{u}")
    assert len(audio) == 8000 + 500 and np.array_equal(audio[:, 0], pcm[:8500])
    note = call.extra_metadata["live_note"]
    assert "Asterisk reported the calling party hung up (error 0x01)" in note
    assert "skipped 2 frame(s) of unknown kind 0x42" in note
    assert "the connection closed inside a frame (1001 of 8000 bytes arrived)" in note
    assert "unknown kind 0x42" in caplog.text and "must be the UUID" in caplog.text
    assert caplog.text.count("unknown kind 0x42") == 1  # logged once per kind
    assert "'9'" not in caplog.text and "digit 9" not in caplog.text
    with rt.db.session() as s:
        assert len(s.scalars(select(LiveCall)).all()) == 1


def test_rates_mulaw_and_an_idle_stream(servers) -> None:  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make(audiosocket_kind_rates={"0x11": 16000}, audiosocket_mulaw=True,
               live_idle_timeout_s=0.5)
    wide, law = _uuid(), _uuid()
    pcm16k = _tone(500, 1.0, 16000)
    assert _send(srv.address, [_uuid_frame(wide), *_audio_frames(pcm16k, 0x11, 320),
                               encode_frame(HANGUP)])
    audio, call = _stored(rt, f"audiosocket:{wide}")
    assert call.sample_rate == 16000 and np.array_equal(audio[:, 0], pcm16k)
    hi = _uuid()  # 0x17 = 96 kHz: above a live call's 48 kHz, resampled as it arrives
    assert _send(srv.address, [_uuid_frame(hi), *_audio_frames(_tone(500, 1.0, 96000),
                                                               0x17, 1920)])
    audio, call = _stored(rt, f"audiosocket:{hi}")
    want48 = _tone(500, 1.0, 48000).astype(float)
    assert call.sample_rate == 48000 and abs(len(audio) - 48000) <= 64
    n = min(len(audio), 48000) - 200
    assert np.corrcoef(audio[100:n, 0].astype(float), want48[100:n])[0, 1] > 0.99
    buf = io.BytesIO()  # Dial(AudioSocket/…/c(ulaw)): μ-law under kind 0x10
    sf.write(buf, _tone(300, 1.0), 8000, format="RAW", subtype="ULAW")
    mu = buf.getvalue()
    with socket.create_connection(srv.address, timeout=10) as sock:
        sock.sendall(_uuid_frame(law) + b"".join(encode_frame(AUDIO, mu[i:i + 160])
                                                 for i in range(0, len(mu), 160)))
        sock.settimeout(20)  # no hangup, no close: the idle timeout ends it
        assert sock.recv(10) == b""
    audio, call = _stored(rt, f"audiosocket:{law}")
    want = sf.read(io.BytesIO(mu), dtype="int16", format="RAW", subtype="ULAW",
                   samplerate=8000, channels=1)[0]
    assert np.array_equal(audio[:, 0], want)
    assert call.extra_metadata["live_note"] == "no audio for 0.5 s: treated as ended"


def test_a_long_call_goes_on_in_parts_and_the_guard_closes_it(servers, caplog) -> None:  # type: ignore[no-untyped-def]
    """At the longest recording the installation stores (max_duration_s) the call goes on
    as a new part; at audiosocket_max_call_s it is stored and the connection closed."""
    rt, make = servers
    srv = make(max_duration_s=2.0, audiosocket_max_call_s=5.0)
    u = _uuid()
    pcm = (np.random.default_rng(7).normal(0, 3000, 7 * 8000)).astype("<i2")  # parts differ
    with caplog.at_level(logging.WARNING, logger="rokuon.live"):
        assert _send(srv.address, [_uuid_frame(u), *_audio_frames(pcm)])
    parts = [_stored(rt, f"audiosocket:{u}{sfx}") for sfx in ("", "#2", "#3")]
    assert [len(a) for a, _ in parts] == [16000, 16000, 8000]
    assert np.array_equal(np.concatenate([a[:, 0] for a, _ in parts]), pcm[:40000])
    (_, p1), (_, p2), (_, p3) = parts
    assert p1.extra_metadata["live_note"].endswith(f"goes on as call {p2.id} (part 2)")
    assert p2.extra_metadata["continues_call"] == p1.id and p3.extra_metadata["part"] == 3
    assert "longer than max_duration_s (0h00m02s)" in p1.extra_metadata["live_note"]
    assert "reached audiosocket_max_call_s (0h00m05s)" in p3.extra_metadata["live_note"]
    assert "stored and the connection closed" in caplog.text


def test_a_call_cut_off_by_a_shutdown_is_stored_at_the_next_start(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    rt.settings.audiosocket_listen = "127.0.0.1:0"
    u = _uuid()
    pcm = _tone(350, 3.0)
    with TestClient(create_app(rt, start_workers=False)) as client:
        sock = socket.create_connection(client.app.state.audiosocket.address, timeout=10)
        sock.sendall(_uuid_frame(u) + b"".join(_audio_frames(pcm)))
        hub = client.app.state.live_hub
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the server has spooled it
            if [x for x in hub.registry.all() if x.seconds >= 3.0]:
                break
            time.sleep(0.02)
    # the server went away mid-call (no hangup): the row is left receiving
    with rt.db.session() as s:
        assert s.scalars(select(LiveCall)).one().state == LiveState.RECEIVING
    sock.close()
    with TestClient(create_app(rt, start_workers=False)):
        pass  # start-up recovery
    audio, call = _stored(rt, f"audiosocket:{u}")
    assert 2 * 8000 <= len(audio) <= 3 * 8000
    assert np.array_equal(audio[:, 0], pcm[:len(audio)])
    assert "recovered" in call.extra_metadata["live_note"]


# ---- the live board and a complaint alert while the call runs (real ASR) -------------

@pytest.mark.slow
def test_an_abusive_call_over_audiosocket_alerts_live_and_ends_analysed(rt_asr) -> None:  # type: ignore[no-untyped-def]
    from rokuon.pipeline.executor import run_until_done

    rt = rt_asr
    alerts: list[tuple[bool, float, dict[str, Any]]] = []
    shown: list[str] = []
    hub: LiveHub

    def on_alert(session, alert) -> None:  # type: ignore[no-untyped-def]
        alerts.append((session.finished, session.seconds, alert))
        hub.store_alert(session, alert)

    hub = LiveHub(rt, on_alert=on_alert).start()
    srv = AudioSocketServer(rt, hub, listen="127.0.0.1:0").start()
    path = CALLS / "04_abusive_complaint" / "stereo.wav"
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(replay_audiosocket(
        path, "{}:{}".format(*srv.address), speed=1.0)))
    try:
        t.start()
        while t.is_alive():  # the board while the call is in progress
            for session in hub.registry.all():
                board = hub.board.get(session.call_id)
                if board is not None and session.source == "audiosocket":
                    shown[:] = [line["text"] for line in board.shown]
            time.sleep(0.2)
        t.join()
        assert hub.transcriber is not None
    finally:
        srv.stop()
        hub.stop()
    assert "責任者" in "".join(shown), shown
    # raised while the call was still streaming, well before its end (30.4 s of audio)
    assert any(a["kind"] == "complaint" and not finished and at < 29.0
               for finished, at, a in alerts), alerts
    _, call = _stored(rt, result["external_id"])
    run_until_done(rt, [call.id], timeout_s=900)
    with rt.db.session() as s:
        done = s.get(Call, call.id)
        assert done is not None and done.status == CallStatus.INDEXED, done.status_reason
