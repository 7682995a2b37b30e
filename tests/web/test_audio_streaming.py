"""Playback streams from the encrypted store by byte range: what browsers play is sent
as stored, telephony WAVs (G.711 …) as PCM16 computed per range; nothing decoded is
kept in memory between requests."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.web.app import create_app
from tests.helpers import tone_wav
from tests.web.conftest import make_user, sign_in

META = '{"agent": "sato", "team": "A", "purposes": ["quality"]}'


def _flac(seconds: float = 1.5) -> bytes:
    t = np.arange(int(seconds * 16000)) / 16000
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def client(installation):  # type: ignore[no-untyped-def]
    _, rt = installation
    ids = {name: ingest_stream(rt, [data], name=f"{name}.x", actor=Principal.cli(),
                               meta=parse_metadata(META)).call_id
           for name, data in (("ulaw", tone_wav(3.0, seed=11)), ("flac", _flac()))}
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    app = create_app(rt, start_workers=False)
    with TestClient(app, follow_redirects=False) as c:
        sign_in(c, "sato@example.com", None)
        yield app, c, ids


def _get(c: TestClient, cid: str, rng: str | None = None, **params: str):  # type: ignore[no-untyped-def]
    return c.get(f"/api/calls/{cid}/audio", params={"purpose": "quality", **params},
                 headers={"Range": rng} if rng else {})


def test_telephony_wav_is_served_as_pcm16_range_by_range(client) -> None:  # type: ignore[no-untyped-def]
    app, c, ids = client
    full = _get(c, ids["ulaw"])
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert int(full.headers["content-length"]) == len(full.content) == 44 + 3 * 8000 * 2 * 2
    got, rate = sf.read(io.BytesIO(full.content), dtype="int16")
    want, _ = sf.read(io.BytesIO(tone_wav(3.0, seed=11)), dtype="int16")
    assert rate == 8000 and np.array_equal(got, want)  # μ-law decoded exactly as libsndfile
    for a, b in ((0, 0), (40, 47), (44, 44), (1001, 70001), (len(full.content) - 7,
                                                              len(full.content) - 1)):
        part = _get(c, ids["ulaw"], f"bytes={a}-{b}")
        assert part.status_code == 206 and part.content == full.content[a:b + 1], (a, b)
        assert part.headers["content-range"] == f"bytes {a}-{b}/{len(full.content)}"
    assert _get(c, ids["ulaw"], "bytes=-5").content == full.content[-5:]
    assert _get(c, ids["ulaw"], f"bytes={len(full.content)}-").status_code == 416
    assert len(app.state.audio_cache) == 0  # nothing decoded is kept


def test_browser_playable_recording_is_sent_as_stored(client) -> None:  # type: ignore[no-untyped-def]
    app, c, ids = client
    full = _get(c, ids["flac"])
    assert full.status_code == 200 and full.headers["content-type"] == "audio/flac"
    assert full.content == _flac()  # the stored bytes, decrypted, unchanged
    part = _get(c, ids["flac"], "bytes=100-4195")
    assert part.status_code == 206 and part.content == full.content[100:4196]
    down = _get(c, ids["flac"], download="true")
    assert down.status_code == 200 and \
        f'filename="{ids["flac"]}.flac"' in down.headers["content-disposition"]
    assert len(app.state.audio_cache) == 0
