"""A corpus call streamed live through the real model: its transcript grows on the board
while it runs, the abusive customer raises an alert before the call ends, and the
stored call is the same recording the batch pipeline then transcribes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata
from rokuon.live.hub import LiveHub
from rokuon.live.session import LiveSession
from rokuon.store.models import Call

CALL = Path(__file__).parents[1] / "data" / "calls" / "04_abusive_complaint"


@pytest.mark.slow
def test_abusive_call_alerts_while_running(rt_asr) -> None:  # type: ignore[no-untyped-def]
    rt = rt_asr
    alerts: list[tuple[float, dict]] = []
    hub = LiveHub(rt, on_alert=lambda s, a: alerts.append((s.seconds, a))).start()
    try:
        audio, rate = sf.read(CALL / "stereo.wav", dtype="int16", always_2d=True)
        session = LiveSession(rt, source="ws", meta=CallMetadata.model_validate(
            {"agent": "佐藤", "team": "A", "channels": ["agent", "customer"]}), rate=rate,
            channels=2, actor=Principal.cli())
        hub.opened(session)
        step = rate // 50
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(audio), step)):  # twice real time
            session.write(np.ascontiguousarray(audio[i:i + step]).tobytes())
            delay = t0 + (k + 1) * 0.01 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        assert hub.transcriber is not None
        deadline = time.monotonic() + 120
        while not hub.transcriber.idle() and time.monotonic() < deadline:
            time.sleep(0.1)
        board = hub.board.get(session.call_id)
        assert board is not None
        said = "".join(s["text"] for s in board.shown)
        assert "責任者" in said and "申し訳" in said, said
        rules = {a["rule"] for _, a in alerts}
        assert {"complaint", "abusive_customer"} & rules, alerts
        # raised while the call was still open (the stream has not stopped: finish() is
        # below), with its evidence where the customer said it (8.8–18.9 s)
        assert not session.finished
        assert all(8.0 <= a["start"] <= 19.5 for _, a in alerts if a["kind"] == "complaint")
        assert "no_announcement" not in rules  # the agent announced the recording at 5.4 s
        call_id = session.finish()
    finally:
        hub.stop()
    with rt.db.session() as s:
        call = s.get(Call, call_id)
        assert call is not None and abs(call.duration_s - len(audio) / rate) < 0.05
