"""The same audio, model and settings give the same transcript (a transcript is evidence),
and everything needed to reproduce it is recorded with it. Real faster-whisper."""

from __future__ import annotations

from pathlib import Path

import pytest

from rokuon.engine.asr.model import PACKAGED_SHA256
from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine
from rokuon.engine.audio.decode import decode
from rokuon.engine.types import Transcript
from tests.conftest import CALLS

pytestmark = pytest.mark.slow
CALL = CALLS / "15_consent_no" / "stereo.wav"


def shape(tr: Transcript) -> list[tuple[str, float, float, str]]:
    return [(s.speaker, round(s.start, 3), round(s.end, 3), s.text) for s in tr.segments]


@pytest.fixture(scope="module")
def audio():  # type: ignore[no-untyped-def]
    if not CALL.exists():
        pytest.skip("corpus call missing")
    with CALL.open("rb") as fh:
        return decode(fh)


def test_same_audio_twice_same_transcript_and_provenance(audio, models_dir: Path) -> None:
    engine = WhisperEngine(AsrOptions(), models_dir)
    first, second = (engine.transcribe(audio, ["agent", "customer"]) for _ in range(2))
    assert shape(first) == shape(second) and first.segments
    p = first.provenance
    assert p is not None and p == second.provenance
    assert p["model"]["spec"] == "packaged" and p["model"]["sha256"] == PACKAGED_SHA256
    assert p["decoding"]["seed"] == 0 and p["decoding"]["beam_size"] == 5
    assert p["decoding"]["temperatures"] == [0.0] and p["decoding"]["compute_type"] == "int8"
    assert p["numerics"]["requested"] == "AVX2"
    assert p["code"]["rokuon"] and p["code"]["faster_whisper"] and p["code"]["ctranslate2"]


def test_channels_at_once_give_the_text_of_one_after_another(audio, models_dir: Path
                                                              ) -> None:
    """The two channels decoded side by side (two CTranslate2 workers, the cores shared)
    give exactly the transcript of one channel after the other on all cores."""
    at_once = WhisperEngine(AsrOptions(channel_workers=2), models_dir)
    serial = WhisperEngine(AsrOptions(channel_workers=1), models_dir)
    a = at_once.transcribe(audio, ["agent", "customer"])
    b = serial.transcribe(audio, ["agent", "customer"])
    assert shape(a) == shape(b) and {s.speaker for s in a.segments} == {"agent", "customer"}
    assert a.provenance["decoding"]["channel_workers"] == 2  # type: ignore[index]
    assert b.provenance["decoding"]["channel_workers"] == 1  # type: ignore[index]
    assert at_once._serial() is not at_once._decode_lock  # beam search: no lock
    sampled = WhisperEngine(AsrOptions(channel_workers=2, temperatures=(0.0, 0.4)),
                            models_dir)
    assert sampled._serial() is sampled._decode_lock  # a seeded fallback: one at a time
