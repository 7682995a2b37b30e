"""Live capture end to end over real WebSocket frames (Twilio Media Streams and the
generic socket): refused without credentials, stored as a normal call with the live id,
tracks on the right channels, pauses silent, a cut-off call recovered at start-up."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from rokuon.access.principal import Principal
from rokuon.live.session import LiveSession
from rokuon.live.twilio import expected_signature
from rokuon.store.keys import WrappedKey
from rokuon.store.models import (
    Alert,
    AuditEntry,
    Call,
    LiveCall,
    LiveState,
    Party,
    PipelineJob,
)
from rokuon.users.tokens import create_token
from rokuon.web.app import create_app
from tests.web.conftest import make_user

TOKEN = "twilio-auth-token-for-tests"
URL = "ws://testserver/ingest/twilio"


def _mulaw(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, 8000, format="RAW", subtype="ULAW")
    return buf.getvalue()


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000
    return 0.4 * np.sin(2 * np.pi * freq * t)


@pytest.fixture
def app_rt(installation, monkeypatch):  # type: ignore[no-untyped-def]
    _, rt = installation
    rt.settings.twilio_auth_token = TOKEN
    return create_app(rt, start_workers=False), rt


def _stored(rt, call_id: str) -> tuple[np.ndarray, Call]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        call = s.get(Call, call_id)
        assert call is not None
        s.expunge(call)
    data = rt.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key))
    audio, _ = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    return audio, call


def test_twilio_upgrade_without_a_valid_signature_is_refused(app_rt) -> None:  # type: ignore[no-untyped-def]
    app, rt = app_rt
    with TestClient(app) as c:
        for headers in ({}, {"X-Twilio-Signature": "AAAA"},
                        {"X-Twilio-Signature": expected_signature("other", URL)},
                        {"X-Twilio-Signature": expected_signature(TOKEN, URL + "?x=1")}):
            with pytest.raises(WebSocketDisconnect) as e, \
                    c.websocket_connect("/ingest/twilio", headers=headers):
                pass
            assert e.value.code == 1008, headers
    with rt.db.session() as s:
        assert s.scalars(select(LiveCall)).all() == []


def test_twilio_both_tracks_become_a_stereo_call(app_rt) -> None:  # type: ignore[no-untyped-def]
    app, rt = app_rt
    agent, customer = _tone(440, 3.0), _tone(660, 3.0)
    a_mu, c_mu = _mulaw(agent), _mulaw(customer)
    with TestClient(app) as c, c.websocket_connect(
            "/ingest/twilio?tenant=a", headers={"X-Twilio-Signature":
                                                expected_signature(TOKEN, URL + "?tenant=a")}
    ) as ws:
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send_text(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
            "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA77",
                      "tracks": ["inbound", "outbound"],
                      "customParameters": {"agent": "sato", "team": "A",
                                           "customer_number": "0312345678"},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}}))
        seq = 2
        for k in range(150):  # 20 ms frames, tracks interleaved, outbound a bit late
            for track, mu in (("inbound", c_mu), ("outbound", a_mu)):
                ws.send_text(json.dumps({
                    "event": "media", "sequenceNumber": str(seq), "streamSid": "MZ1",
                    "media": {"track": track, "chunk": str(k + 1), "timestamp": str(20 * k),
                              "payload": base64.b64encode(mu[160 * k:160 * (k + 1)]).decode()}}))
                seq += 1
        ws.send_text(json.dumps({"event": "stop", "sequenceNumber": str(seq),
                                 "streamSid": "MZ1", "stop": {"callSid": "CA77"}}))
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()  # the server closes once the call is stored
    with rt.db.session() as s:
        live = s.scalars(select(LiveCall)).one()
        assert live.state == LiveState.DONE and live.source == "twilio"
        live_id = live.id
        roles = {p.channel: p.role for p in s.scalars(select(Party).where(
            Party.call_id == live_id))}
        assert s.scalars(select(PipelineJob).where(PipelineJob.call_id == live_id)).first()
    audio, call = _stored(rt, live_id)
    assert call.external_id == "twilio:CA77" and call.agent == "sato"
    assert call.source == "live" and abs(call.duration_s - 3.0) < 0.05
    assert roles == {0: "agent", 1: "customer"}
    want_a, _ = sf.read(io.BytesIO(a_mu), dtype="int16", format="RAW", subtype="ULAW",
                        samplerate=8000, channels=1)
    want_c, _ = sf.read(io.BytesIO(c_mu), dtype="int16", format="RAW", subtype="ULAW",
                        samplerate=8000, channels=1)
    assert np.array_equal(audio[:, 0], want_a) and np.array_equal(audio[:, 1], want_c)
    assert not list((rt.settings.home / "live").glob("*.spool"))  # spool removed


def _ws_token(rt) -> str:  # type: ignore[no-untyped-def]
    make_user(rt, "ivr@example.com", "operator", agent_name="sato")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "ivr@example.com",
                                ["calls:write", "calls:read"])
    return token


def test_generic_socket_with_pause_keeps_card_entry_out(app_rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.integrations.webhooks import add_endpoint, new_secret
    from rokuon.store.models import WebhookDelivery

    app, rt = app_rt
    with rt.db.session() as s:  # a receiver for the live events (nothing listens: queued)
        add_endpoint(s, rt.keys, "http://127.0.0.1:9/hook", ["call.started", "call.ended"],
                     secret=new_secret(), allow_private=True)
    token = _ws_token(rt)
    auth = {"Authorization": f"Bearer {token}"}
    voice = (np.stack([_tone(300, 1.0), _tone(500, 1.0)], 1) * 32767).astype("<i2")
    with TestClient(app) as c:
        with pytest.raises(WebSocketDisconnect) as e, c.websocket_connect("/ingest/ws"):
            pass
        assert e.value.code == 1008  # no token: refused
        with c.websocket_connect("/ingest/ws", headers=auth) as ws:
            ws.send_text(json.dumps({"event": "start", "metadata": {"agent": "sato",
                                     "channels": ["customer", "agent"]},
                                     "format": {"encoding": "pcm16", "sample_rate": 8000,
                                                "channels": 2}}))
            started = json.loads(ws.receive_text())
            cid = started["call_id"]
            ws.send_bytes(voice.tobytes()[:-1])  # split mid-sample: reassembled
            ws.send_bytes(voice.tobytes()[-1:])
            # another agent (or a token of the wrong role) cannot pause someone's call
            make_user(rt, "kato@example.com", "operator", agent_name="kato")
            with rt.db.session() as s:
                kato, _ = create_token(s, Principal.cli(), "kato@example.com",
                                       ["calls:write"])
            assert c.post(f"/api/calls/{cid}/pause", headers={
                "Authorization": f"Bearer {kato}"}).status_code == 404
            r = c.post(f"/api/calls/{cid}/pause", headers=auth)
            assert r.status_code == 200 and r.json()["paused"] is True
            assert c.post(f"/api/calls/{cid}/pause", headers=auth).json()["changed"] is False
            ws.send_bytes(voice.tobytes())  # the card number: never kept
            assert c.post(f"/api/calls/{cid}/resume", headers=auth).json()["paused"] is False
            ws.send_bytes(voice.tobytes())
            ws.send_text(json.dumps({"event": "stop"}))
            assert json.loads(ws.receive_text()) == {"event": "stored", "call_id": cid}
        assert c.post(f"/api/calls/{cid}/pause", headers=auth).status_code == 404  # ended
    audio, call = _stored(rt, cid)
    assert audio.shape == (24000, 2)
    assert np.array_equal(audio[:8000], voice) and np.array_equal(audio[16000:], voice)
    assert not audio[8000:16000].any()  # the paused second is silence
    assert call.extra_metadata["paused_spans"] == [[1.0, 2.0]]
    with rt.db.session() as s:
        acts = [a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.object_id == cid))]
        roles = {p.channel: p.role for p in s.scalars(select(Party).where(
            Party.call_id == cid))}
    assert acts.count("call.pause") == 2 and acts.count("call.resume") == 1  # kato: no row
    assert roles == {0: "customer", 1: "agent"}
    with rt.db.session() as s:
        events = {json.loads(d.payload)["type"]: json.loads(d.payload)["data"]
                  for d in s.scalars(select(WebhookDelivery).where(
                      WebhookDelivery.call_id == cid))}
    assert events["call.started"]["agent"] == "sato"
    assert events["call.ended"] == {"call_id": cid, "duration_s": 3.0,
                                    "paused_spans": [[1.0, 2.0]]}


def test_bad_frames_get_a_clear_error_and_what_arrived_is_kept(app_rt) -> None:  # type: ignore[no-untyped-def]
    app, rt = app_rt
    auth = {"Authorization": f"Bearer {_ws_token(rt)}"}
    with TestClient(app) as c:
        with c.websocket_connect("/ingest/ws", headers=auth) as ws:
            ws.send_bytes(b"\0\0")
            err = json.loads(ws.receive_text())
            assert err["event"] == "error" and "before 'start'" in err["error"]
        with c.websocket_connect("/ingest/ws", headers=auth) as ws:
            ws.send_text(json.dumps({"event": "start", "format": {"channels": 5}}))
            assert "5 channels" in json.loads(ws.receive_text())["error"]
        with c.websocket_connect("/ingest/ws", headers=auth) as ws:
            ws.send_text(json.dumps({"event": "start", "metadata": {"agent": "sato"}}))
            cid = json.loads(ws.receive_text())["call_id"]
            ws.send_bytes((_tone(300, 1.0) * 32767).astype("<i2").tobytes())
            ws.send_text("{not json")
            assert "not JSON" in json.loads(ws.receive_text())["error"]
    audio, call = _stored(rt, cid)  # the second that arrived is a call
    assert len(audio) == 8000 and "stream error" in call.extra_metadata["live_note"]


def test_a_call_cut_off_by_a_crash_is_stored_at_the_next_start(app_rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.calls.metadata import CallMetadata

    app, rt = app_rt
    sess = LiveSession(rt, source="ws", meta=CallMetadata(agent="sato"), rate=8000,
                       channels=1, actor=Principal.cli())
    pcm = (_tone(350, 3.5) * 20000).astype("<i2").tobytes()
    for i in range(0, len(pcm), 320):
        sess.write(pcm[i:i + 320])
    sess.spool._fh.close()  # killed: no final chunk, no finish
    with TestClient(create_app(rt, start_workers=False)):
        pass  # start-up recovers it
    audio, call = _stored(rt, sess.call_id)
    assert 2.5 * 8000 <= len(audio) <= 3.5 * 8000
    assert np.array_equal(audio[:, 0], np.frombuffer(pcm, dtype="<i2")[:len(audio)])
    assert "recovered" in call.extra_metadata["live_note"]


def test_erasing_a_live_call_leaves_no_alert_or_live_row(app_rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.calls.erase import erase_call
    from rokuon.calls.metadata import CallMetadata
    from rokuon.integrations.alerts import raise_alert

    app, rt = app_rt
    sess = LiveSession(rt, source="ws", meta=CallMetadata(agent="sato"), rate=8000,
                       channels=1, actor=Principal.cli())
    sess.write((_tone(300, 1.0) * 20000).astype("<i2").tobytes())
    with rt.db.session() as s:
        raise_alert(s, call_id=sess.call_id, rule="complaint", kind="complaint",
                    speaker="customer", start=0.1, end=0.9, text="責任者を出せ", score=0.8)
    cid = sess.finish()
    erase_call(rt, Principal.cli(), cid, reason="erasure request 7")
    with rt.db.session() as s:
        assert s.scalars(select(Alert).where(Alert.call_id == cid)).all() == []
        assert s.get(LiveCall, cid) is None and s.get(Call, cid) is None
