"""Tight voice activity: exact edges, no padding, noise and hold silence are not speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rokuon.engine.asr.transcribe import in_seconds, speech_chunks
from rokuon.engine.audio.activity import ActivityOptions, bridge, frame_levels, tight_activity
from rokuon.engine.audio.decode import decode

SR = 16_000
CALLS = Path(__file__).resolve().parents[1] / "data" / "calls"
ENERGY = ActivityOptions(use_vad=False)  # synthetic tones: Silero does not call them speech


def bursts(spans: list[tuple[float, float]], seconds: float, *, level: float = 0.3,
           noise: float = 0.0, seed: int = 1) -> np.ndarray:
    """Syllable-like tone bursts (4 Hz amplitude wobble) in ``spans``, optional noise."""
    t = np.arange(int(seconds * SR)) / SR
    x = np.zeros_like(t)
    for s, e in spans:
        m = (t >= s) & (t < e)
        x[m] = level * np.sin(2 * np.pi * 220 * t[m]) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t[m]))
    if noise:
        x += noise * np.random.default_rng(seed).standard_normal(len(t))
    return x.astype(np.float32)


def test_edges_are_exact_without_padding() -> None:
    x = bursts([(1.0, 2.5), (4.0, 4.6)], 6.0)
    spans = tight_activity(x, options=ENERGY)
    assert len(spans) == 2
    for (s, e), (ws, we) in zip(spans, [(1.0, 2.5), (4.0, 4.6)], strict=True):
        assert s == pytest.approx(ws, abs=0.02) and e == pytest.approx(we, abs=0.02)


def test_noise_floor_is_not_speech() -> None:
    x = bursts([(1.0, 2.0), (3.0, 3.5)], 5.0, noise=0.003)  # ≈ −50 dB line noise
    spans = tight_activity(x, options=ENERGY)
    assert [round(s, 1) for s, _ in spans] == [1.0, 3.0]
    assert sum(e - s for s, e in spans) == pytest.approx(1.5, abs=0.05)


def test_speech_over_a_measured_noise_floor_gets_tight_edges() -> None:
    x = bursts([(2.5, 4.0), (6.0, 7.0)], 10.0, noise=0.01)  # ≈ 20 dB above the noise
    spans = tight_activity(x, regions=[(2.1, 4.4), (5.6, 7.4)])
    assert spans == [pytest.approx((2.5, 4.0), abs=0.03), pytest.approx((6.0, 7.0), abs=0.03)]


def test_level_that_cannot_tell_speech_from_background_leaves_it_to_silero() -> None:
    """Loud noise everywhere (as loud inside the given regions as outside): the level
    decides nothing; Silero, run again without padding, hears no speech in white noise
    (energy only: the given regions stand)."""
    x = bursts([], 10.0, noise=0.05)
    assert tight_activity(x, regions=[(2.0, 6.0)]) == []
    assert tight_activity(x, regions=[(2.0, 6.0)], options=ENERGY) == [(2.0, 6.0)]


@pytest.mark.parametrize("call", ["33_noisy_line", "34_noisy_refusal"])
def test_noisy_lines_still_on_target(call: str) -> None:
    """Line noise at 15 and 8 dB SNR: talk time per channel within ±1.5 s or 10 %."""
    if not (CALLS / call / "truth.json").exists():
        pytest.skip(f"corpus call {call} not generated")
    truth = json.loads((CALLS / call / "truth.json").read_text(encoding="utf-8"))
    with (CALLS / call / "stereo.wav").open("rb") as fh:
        audio = decode(fh)
    for role, ch in zip(truth["stereo_channels"], audio.channels, strict=True):
        said = sum(u["end"] - u["start"] for u in truth["utterances"] if u["speaker"] == role)
        spans = bridge(tight_activity(ch, regions=in_seconds(speech_chunks(ch))), 0.8)
        assert abs(sum(e - s for s, e in spans) - said) <= max(1.5, 0.1 * said), role


def test_short_holes_filled_short_blips_dropped() -> None:
    x = bursts([(1.0, 1.5), (1.58, 2.0), (3.0, 3.02)], 4.0)
    assert tight_activity(x, options=ENERGY) == [pytest.approx((1.0, 2.0), abs=0.02)]


def test_regions_limit_where_speech_is_looked_for() -> None:
    x = bursts([(1.0, 2.0), (5.0, 6.0)], 8.0)
    spans = tight_activity(x, regions=[(0.6, 2.4)])  # as the recogniser's padded VAD
    assert spans == [pytest.approx((1.0, 2.0), abs=0.02)]


def test_silence_and_empty_input() -> None:
    assert tight_activity(np.zeros(SR * 3, dtype=np.float32)) == []
    assert tight_activity(np.zeros(0, dtype=np.float32)) == []
    assert frame_levels(np.zeros(10, dtype=np.float32)).size == 0


def test_bridge() -> None:
    assert bridge([(3.0, 4.0), (0.0, 1.0), (1.5, 2.0)], 0.6) == [(0.0, 2.0), (3.0, 4.0)]


@pytest.mark.parametrize("call", ["04_abusive_complaint", "11_hold"])
def test_corpus_channels_match_the_labelled_speech(call: str) -> None:
    """Real (synthesized) speech with Silero: tight spans lie inside the labelled
    utterances (±30 ms), every utterance starts and ends within 0.1 s of a voiced edge,
    and talk time (pauses < 0.8 s closed) is on target; the recogniser's padded VAD
    adds seconds."""
    truth = json.loads((CALLS / call / "truth.json").read_text(encoding="utf-8"))
    with (CALLS / call / "stereo.wav").open("rb") as fh:
        audio = decode(fh)
    for role, ch in zip(truth["stereo_channels"], audio.channels, strict=True):
        utts = [(u["start"], u["end"]) for u in truth["utterances"] if u["speaker"] == role]
        padded = in_seconds(speech_chunks(ch))
        spans = tight_activity(ch, regions=padded)
        for s, e in spans:
            assert any(us - 0.03 <= s and e <= ue + 0.03 for us, ue in utts), (role, s, e)
        for us, ue in utts:  # each utterance starts and ends on a voiced edge
            assert min(abs(s - us) for s, _ in spans) < 0.1
            assert min(abs(e - ue) for _, e in spans) < 0.1
        said = sum(e - s for s, e in utts)
        voiced = sum(e - s for s, e in bridge(spans, 0.8))
        assert abs(voiced - said) <= max(1.5, 0.1 * said)
        assert sum(e - s for s, e in padded) - said > 1.5  # what the metrics used before
