"""Real faster-whisper (packaged base model) and resemblyzer on the labelled corpus:
roles per channel, diarization for mono, no text from silence. Loose bounds only
catch breakage; the accuracy numbers come from scripts/evaluate.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rokuon.engine.asr.metrics import cer
from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine, to_engine
from rokuon.engine.audio.decode import decode
from rokuon.engine.types import AudioInfo, DecodedAudio, Segment, Transcript
from tests.conftest import CALLS

pytestmark = pytest.mark.slow


def load(name: str, wav: str) -> tuple[DecodedAudio, dict[str, Any]]:
    d = CALLS / name
    if not (d / "truth.json").exists():
        pytest.skip(f"corpus call {name} not generated")
    with (d / wav).open("rb") as fh:
        audio = decode(fh)
    return audio, json.loads((d / "truth.json").read_text(encoding="utf-8"))


def role_text(items: list[Any], role: str) -> str:
    return "".join(x["text"] if isinstance(x, dict) else x.text for x in items
                   if (x["speaker"] if isinstance(x, dict) else x.speaker) == role)


def attribution(segments: list[Segment], utts: list[dict[str, Any]]) -> float:
    """Share of word time whose speaker is speaking then in the ground truth."""
    ok = total = 0.0
    for seg in segments:
        for w in seg.words:
            mid = (w.start + w.end) / 2
            refs = {u["speaker"] for u in utts if u["start"] - 0.15 <= mid <= u["end"] + 0.15}
            if refs:
                total += w.end - w.start
                ok += (w.end - w.start) * (seg.speaker in refs)
    return ok / total


def well_formed(tr: Transcript) -> None:
    assert tr.engine == "faster-whisper" and tr.model == "packaged" and tr.language == "ja"
    assert tr.segments == sorted(tr.segments, key=lambda s: (s.start, s.end))
    for s in tr.segments:
        assert s.text and s.words and 0 < s.confidence <= 1
        assert s.start <= s.end and s.start >= 0 and s.end <= tr.duration_s + 0.5
        assert all(s.start - 0.01 <= w.start <= w.end <= s.end + 0.01 for w in s.words)
    for d in tr.dropped:
        assert {"start", "end", "text", "reason"} <= set(d)


@pytest.mark.parametrize("call", ["01_billing_inquiry", "12_two_female_delivery",
                                  "14_plan_change_long"])
def test_stereo_roles_from_channels(shared_asr: WhisperEngine, call: str) -> None:
    audio, truth = load(call, "stereo.wav")
    tr = shared_asr.transcribe(audio, ["agent", "customer"])
    well_formed(tr)
    assert tr.diarization is None
    assert {s.speaker for s in tr.segments} == {"agent", "customer"}
    assert all(s.channel == (0 if s.speaker == "agent" else 1) for s in tr.segments)
    assert tr.segments[0].speaker == "agent"
    for role in ("agent", "customer"):
        assert cer(role_text(truth["utterances"], role), role_text(tr.segments, role)) < 0.4
    assert attribution(tr.segments, truth["utterances"]) > 0.95


def test_stereo_channels_take_the_roles_given(shared_asr: WhisperEngine) -> None:
    audio, _ = load("15_consent_no", "stereo.wav")
    tr = shared_asr.transcribe(audio, ["customer", "agent"])
    assert tr.segments[0].speaker == "customer"
    assert all(s.channel == (0 if s.speaker == "customer" else 1) for s in tr.segments)


@pytest.mark.parametrize("call, min_confidence", [("01_billing_inquiry", 0.8),
                                                  ("13_two_female_complaint", 0.3)])
def test_mono_diarization_maps_the_opener_to_agent(shared_asr: WhisperEngine, call: str,
                                                   min_confidence: float) -> None:
    audio, truth = load(call, "mono.wav")
    tr = shared_asr.transcribe(audio, [])
    well_formed(tr)
    assert all(s.channel is None for s in tr.segments)
    dia = tr.diarization
    assert dia and dia["speakers"] == 2
    assert dia["speaker_map"] == {"speaker_0": "agent", "speaker_1": "customer"}
    assert min_confidence < dia["role_confidence"] <= 1
    assert tr.segments[0].speaker == "agent"
    assert attribution(tr.segments, truth["utterances"]) > 0.85
    for role in ("agent", "customer"):
        assert cer(role_text(truth["utterances"], role), role_text(tr.segments, role)) < 0.5


def test_mono_roles_in_order_of_appearance(shared_asr: WhisperEngine) -> None:
    """The caller can say who opens (e.g. an outbound call answered by the customer)."""
    audio, _ = load("15_consent_no", "mono.wav")
    samples = audio.channels[0]
    res = shared_asr.transcribe_channel(samples)
    segments = to_engine(res.segments, "speaker_0", None)
    out, info = shared_asr.diarizer().assign(samples, segments, res.speech,
                                             ["customer", "agent"])
    assert out[0].speaker == "customer"
    assert info["speaker_map"] == {"speaker_0": "customer", "speaker_1": "agent"}


def test_one_voice_in_mono_has_a_low_role_confidence(shared_asr: WhisperEngine) -> None:
    """One voice alone: the d-vectors of one synthetic voice are as far apart as two
    similar voices, so it may still be split in two; the role confidence says so."""
    audio, _ = load("14_plan_change_long", "stereo.wav")
    agent_only = DecodedAudio(info=audio.info, channels=[audio.channels[0]])
    tr = shared_asr.transcribe(agent_only, [])
    assert tr.diarization is not None and tr.diarization["role_confidence"] < 0.8


def test_silence_and_noise_give_no_text(shared_asr: WhisperEngine) -> None:
    rng = np.random.default_rng(0)
    noise = (0.003 * rng.standard_normal(16000 * 20)).astype(np.float32)
    audio = DecodedAudio(info=AudioInfo("wav", "pcm_s16le", 16000, 2, 20.0),
                         channels=[noise, np.zeros_like(noise)])
    tr = shared_asr.transcribe(audio, ["agent", "customer"])
    assert tr.segments == [] and tr.language == "ja"
    mono = DecodedAudio(info=AudioInfo("wav", "pcm_s16le", 16000, 1, 20.0),
                        channels=[np.zeros_like(noise)])
    tr = shared_asr.transcribe(mono, [])
    assert tr.segments == [] and tr.diarization and tr.diarization["speakers"] == 1


def test_language_detection(shared_asr: WhisperEngine, models_dir: Path) -> None:
    audio, _ = load("01_billing_inquiry", "stereo.wav")
    clip = audio.channels[0][: 16000 * 8]
    engine = WhisperEngine(AsrOptions(language="auto"), models_dir)
    engine._model = shared_asr.model()  # the same weights, loaded once per session
    res = engine.transcribe_channel(clip)
    assert res.language == "ja" and res.segments


def test_without_vad(shared_asr: WhisperEngine, models_dir: Path) -> None:
    audio, _ = load("01_billing_inquiry", "stereo.wav")
    engine = WhisperEngine(AsrOptions(vad=False, beam_size=1), models_dir)
    engine._model = shared_asr.model()
    res = engine.transcribe_channel(audio.channels[0][: 16000 * 8])
    assert res.segments and res.speech  # the guard still gets the voice activity
