"""`rokuon replay` against a real server (uvicorn, real sockets): a corpus call sent over
Twilio Media Streams and over the generic socket arrives as the same audio."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app as cli
from rokuon.store.keys import WrappedKey
from rokuon.store.models import Call
from rokuon.users.tokens import create_token
from tests.web.conftest import live_server, make_user

CALL = Path(__file__).parents[1] / "data" / "calls" / "01_billing_inquiry" / "stereo.wav"


def _audio(rt, call: Call) -> np.ndarray:  # type: ignore[no-untyped-def]
    data = rt.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key))
    return sf.read(io.BytesIO(data), dtype="int16", always_2d=True)[0]


def test_replay_over_twilio_and_ws_stores_the_recording(installation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    rt.settings.twilio_auth_token = "tok-123"  # the server's
    monkeypatch.setenv("ROKUON_TWILIO_AUTH_TOKEN", "tok-123")  # what replay signs with
    make_user(rt, "ivr@example.com", "operator", agent_name="佐藤")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "ivr@example.com", ["calls:write"])
    original, rate = sf.read(CALL, dtype="int16", always_2d=True)
    runner = CliRunner()
    with live_server(rt) as base:
        ws_base = base.replace("http://", "ws://")
        r = runner.invoke(cli, ["replay", str(CALL), "--to", "twilio",
                                f"{ws_base}/ingest/twilio", "--speed", "0", "--json",
                                "--metadata", '{"agent": "佐藤", "queue": "billing"}'])
        assert r.exit_code == 0, r.output
        tw = json.loads(r.output)
        r = runner.invoke(cli, ["replay", str(CALL), "--to", "ws", f"{ws_base}/ingest/ws",
                                "--speed", "0", "--json", "--token", token,
                                "--metadata", '{"agent": "佐藤"}'])
        assert r.exit_code == 0, r.output
        ws = json.loads(r.output)
        bad = runner.invoke(cli, ["replay", str(CALL), "--to", "ws", f"{ws_base}/ingest/ws",
                                  "--speed", "0", "--token", "rk_wrong"])
        assert bad.exit_code != 0 and "refused the stream (HTTP 403)" in bad.output
        monkeypatch.setenv("ROKUON_TWILIO_AUTH_TOKEN", "not-the-servers")
        bad = runner.invoke(cli, ["replay", str(CALL), "--to", "twilio",
                                  f"{ws_base}/ingest/twilio", "--speed", "0"])
        assert bad.exit_code != 0 and "ROKUON_TWILIO_AUTH_TOKEN" in bad.output
    with rt.db.session() as s:
        by_twilio = s.scalars(select(Call).where(Call.external_id == tw["external_id"])).one()
        by_ws = s.get(Call, ws["call_id"])
        assert by_ws is not None
        s.expunge_all()
    assert rate == 8000 and by_twilio.queue == "billing" and by_ws.agent == "佐藤"
    got = _audio(rt, by_twilio)  # μ-law on the wire: within G.711's error of the original
    assert got.shape == original.shape
    err = np.abs(got.astype(int) - original.astype(int))
    assert np.percentile(err, 99) < 0.04 * 32768 and np.corrcoef(
        got[:, 1].astype(float), original[:, 1].astype(float))[0, 1] > 0.99
    # the generic socket at 16 kHz PCM16: same length in time, same channel order
    g = _audio(rt, by_ws)
    assert abs(len(g) / 16000 - len(original) / 8000) < 0.03 and g.shape[1] == 2
