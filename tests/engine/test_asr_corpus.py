"""Real faster-whisper on the labelled corpus: roles per channel, diarization for
mono. Loose bounds only catch breakage; the accuracy numbers come from
scripts/evaluate.py."""

from __future__ import annotations

import json

import pytest

from rokuon.engine.asr.metrics import cer
from rokuon.engine.audio.decode import decode
from tests.conftest import CALLS

pytestmark = pytest.mark.slow


def _load(name: str):  # type: ignore[no-untyped-def]
    d = CALLS / name
    if not (d / "truth.json").exists():
        pytest.skip("corpus not generated")
    return d, json.loads((d / "truth.json").read_text(encoding="utf-8"))


def _role_text(items, role: str, key: str = "speaker") -> str:  # type: ignore[no-untyped-def]
    return "".join(x["text"] if isinstance(x, dict) else x.text for x in items
                   if (x[key] if isinstance(x, dict) else x.speaker) == role)


def test_stereo_roles_from_channels(shared_asr) -> None:  # type: ignore[no-untyped-def]
    d, truth = _load("12_two_female_delivery")
    with (d / "stereo.wav").open("rb") as fh:
        tr = shared_asr.transcribe(decode(fh), ["agent", "customer"])
    assert {s.speaker for s in tr.segments} == {"agent", "customer"}
    assert all(s.channel == (0 if s.speaker == "agent" else 1) for s in tr.segments)
    assert all(s.words and 0 < s.confidence <= 1 for s in tr.segments)
    assert tr.segments == sorted(tr.segments, key=lambda s: (s.start, s.end))
    for role in ("agent", "customer"):
        assert cer(_role_text(truth["utterances"], role), _role_text(tr.segments, role)) < 0.5
    # swapped channels swap the roles
    with (d / "stereo.wav").open("rb") as fh:
        swapped = shared_asr.transcribe(decode(fh), ["customer", "agent"])
    assert swapped.segments[0].speaker == "customer"


def test_mono_diarization_maps_the_opener_to_agent(shared_asr) -> None:  # type: ignore[no-untyped-def]
    d, truth = _load("01_billing_inquiry")
    with (d / "mono.wav").open("rb") as fh:
        tr = shared_asr.transcribe(decode(fh), [])
    assert tr.diarization and tr.diarization["speakers"] == 2
    assert tr.diarization["role_confidence"] > 0.3
    assert tr.segments[0].speaker == "agent"
    right = total = 0
    for s in tr.segments:
        mid = (s.start + s.end) / 2
        ref = next((u["speaker"] for u in truth["utterances"]
                    if u["start"] - 0.2 <= mid <= u["end"] + 0.2), None)
        if ref:
            total += 1
            right += ref == s.speaker
    assert right / total > 0.8


def test_silence_gives_no_phantom_text(shared_asr) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from rokuon.engine.types import AudioInfo, DecodedAudio

    rng = np.random.default_rng(0)
    noise = (0.003 * rng.standard_normal(16000 * 20)).astype(np.float32)
    audio = DecodedAudio(info=AudioInfo("wav", "pcm_s16le", 16000, 2, 20.0),
                         channels=[noise, np.zeros_like(noise)])
    tr = shared_asr.transcribe(audio, ["agent", "customer"])
    assert tr.segments == []
