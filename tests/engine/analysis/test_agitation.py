"""Voice agitation: prosodic features against the speaker's own baseline, on synthetic
harmonic "voices" (known f0 and level), degenerate audio, and one real corpus call."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rokuon.engine.analysis import agitation
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.audio.decode import decode
from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment

from .corpus import CALLS, call_input

CFG = load_config()
SR = ENGINE_SAMPLE_RATE
TEXT = "はい、その件について確認したいです。"  # same text everywhere: equal speech rate
SEG_S, GAP_S = 2.0, 0.5


def voice(f0: float, seconds: float, amp: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A harmonic 'voice': 10 harmonics (1/k), slight vibrato and jitter, amplitude
    modulated at a syllable rate of ~5 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * (1 + 0.02 * np.sin(2 * np.pi * 3 * t) + 0.003 * rng.standard_normal(len(t)))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 11) if k * f0 < sr / 2)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 5 * t) ** 2
    return (amp * env * x).astype(np.float32)


def layout(n: int, start: float = 0.5) -> list[tuple[float, float]]:
    return [(start + i * (SEG_S + GAP_S), start + i * (SEG_S + GAP_S) + SEG_S)
            for i in range(n)]


def place(total_s: float, spans: list[tuple[float, float]], chunks: list[np.ndarray],
          sr: int = SR) -> np.ndarray:
    out = np.zeros(int(total_s * sr), dtype=np.float32)
    for (a, _), chunk in zip(spans, chunks, strict=True):
        i = int(a * sr)
        out[i: i + len(chunk)] += chunk[: len(out) - i]
    return out


def customer_call(raised: int = 3, calm: int = 10, mono: bool = False) -> CallInput:
    """Ten calm customer segments (f0 120 Hz), then ``raised`` with f0 +60 % and
    +12 dB; an agent (f0 220 Hz) speaks four segments after them."""
    spans = layout(calm + raised)
    chunks = [voice(120, SEG_S, 0.05, seed=i) for i in range(calm)]
    chunks += [voice(192, SEG_S, 0.05 * 10 ** (12 / 20), seed=50 + i) for i in range(raised)]
    agent_spans = layout(4, start=spans[-1][1] + 1.0)
    agent_chunks = [voice(220, SEG_S, 0.05, seed=90 + i) for i in range(4)]
    total = agent_spans[-1][1] + 1.0
    segs = [Segment("customer", a, b, TEXT) for a, b in spans]
    segs += [Segment("agent", a, b, "かしこまりました。確認いたします。") for a, b in agent_spans]
    cust = place(total, spans, chunks)
    agent = place(total, agent_spans, agent_chunks)
    audio = {"mixed": cust + agent} if mono else {"customer": cust, "agent": agent}
    return CallInput(segments=segs, duration_s=total, audio=audio)


def check_shape(res: dict) -> None:
    assert set(res) >= {"available", "reason", "method"}
    for role in ("agent", "customer"):
        if role not in res:
            continue
        r = res[role]
        assert r["level"] in (*agitation.LEVELS, None)
        for e in r["episodes"]:
            assert set(e) == {"start", "end", "segment", "level", "f0_z", "loudness_z",
                              "rate_z", "score"}
            assert e["level"] in agitation.LEVELS[1:]
        if r["level"] is not None:
            assert set(r["baseline"]) == {"f0_hz", "loudness_db", "mora_per_s"}


def test_features_measure_pitch_and_level() -> None:
    x = np.concatenate([voice(120, 2.0, 0.05), voice(192, 2.0, 0.05 * 10 ** (12 / 20))])
    a, b = agitation.features(x, SR, [(0.0, 2.0), (2.0, 4.0)], CFG)
    assert a["f0_hz"] == pytest.approx(120, rel=0.03)
    assert b["f0_hz"] == pytest.approx(192, rel=0.03)
    assert b["loudness_db"] - a["loudness_db"] == pytest.approx(12, abs=1.0)
    assert a["voiced_s"] > 1.5
    silent = agitation.features(np.zeros(SR * 2, dtype=np.float32), SR, [(0.0, 2.0)], CFG)
    assert silent[0]["f0_hz"] is None and silent[0]["loudness_db"] is None


@pytest.mark.parametrize("mono", [False, True])
def test_raised_pitch_and_loudness_are_flagged(mono: bool) -> None:
    res = agitation.analyze(customer_call(mono=mono), CFG, {})
    check_shape(res)
    assert res["available"] and res["reason"] is None
    cust = res["customer"]
    print("mono" if mono else "stereo", cust["level"],
          [(e["segment"], e["level"], e["score"]) for e in cust["episodes"]])
    assert {e["segment"] for e in cust["episodes"]} == {10, 11, 12}
    assert all(e["level"] in ("agitated", "angry") for e in cust["episodes"])
    assert all(e["f0_z"] > 2 and e["loudness_z"] > 2 for e in cust["episodes"])
    assert cust["level"] in ("agitated", "angry")
    assert cust["baseline"]["f0_hz"] == pytest.approx(120, rel=0.05)
    assert cust["baseline"]["mora_per_s"] > 0
    assert res["agent"]["level"] == "calm" and res["agent"]["episodes"] == []
    assert bool(res["notes"]) == mono


def test_constant_speech_is_calm() -> None:
    res = agitation.analyze(customer_call(raised=0, calm=12), CFG, {})
    check_shape(res)
    assert res["customer"]["level"] == "calm"
    assert res["customer"]["episodes"] == []


def test_one_short_outburst_is_an_episode_not_the_level() -> None:
    res = agitation.analyze(customer_call(raised=1, calm=12), CFG, {})
    assert res["customer"]["level"] == "calm"
    assert [e["segment"] for e in res["customer"]["episodes"]] == [12]


def test_silence_and_constant_audio_are_unavailable() -> None:
    call = customer_call()
    n = len(call.audio["customer"])
    for audio in (np.zeros(n, np.float32), np.full(n, 0.5, np.float32)):
        call.audio = {"customer": audio, "agent": audio}
        res = agitation.analyze(call, CFG, {})
        check_shape(res)
        assert res["available"] is False
        assert res["reason"] == "no voiced speech"


def test_no_audio_and_no_segments() -> None:
    call = customer_call()
    call.audio = None
    assert agitation.analyze(call, CFG, {}) == {
        "available": False, "reason": "no audio", "method": agitation.METHOD, "notes": []}
    empty = CallInput(segments=[], duration_s=10, audio={"mixed": np.zeros(SR)})
    assert agitation.analyze(empty, CFG, {})["available"] is False


def test_too_little_speech() -> None:
    call = customer_call()
    call.segments = call.segments[:2] + [Segment("customer", 30.0, 30.3, "はい")]
    res = agitation.analyze(call, CFG, {})
    assert res["available"] is False and res["reason"] == "too little speech"


def test_missing_channel_for_a_role() -> None:
    call = customer_call()
    del call.audio["agent"]
    res = agitation.analyze(call, CFG, {})
    assert res["available"] is True
    assert res["agent"]["level"] is None
    assert res["agent"]["reason"] == "no audio for this speaker"


def test_bad_audio_shapes_and_rates() -> None:
    call = customer_call()
    call.audio = {"customer": np.zeros((2, 100), np.float32), "agent": np.zeros(0, np.float32)}
    res = agitation.analyze(call, CFG, {})
    assert res["available"] is False
    assert res["customer"]["reason"] == "audio is not a single channel"
    call = customer_call()
    call.sample_rate = 0
    assert agitation.analyze(call, CFG, {})["reason"] == "no audio"


def test_clipping_nan_and_odd_segments_do_not_crash() -> None:
    call = customer_call()
    clipped = np.clip(call.audio["customer"] * 40, -1, 1)
    clipped[1000:1100] = np.nan
    clipped[5000:5010] = np.inf
    call.audio = {"customer": clipped, "agent": call.audio["agent"]}
    call.segments += [Segment("customer", 500.0, 505.0, "範囲外"),  # beyond the audio
                      Segment("customer", 3.0, 3.0, ""),
                      Segment("customer", 9.0, 4.0, "逆"),
                      Segment("customer", -2.0, 1.0, "負")]
    res = agitation.analyze(call, CFG, {})
    check_shape(res)
    assert res["available"] is True


def test_long_calls_are_capped_and_fast() -> None:
    """A three-hour call (2 kHz to keep the test's memory small): at most
    max_segments per speaker are analysed, evenly spread."""
    sr = 2000
    pattern = np.concatenate([voice(120, SEG_S, 0.05, sr=sr), np.zeros(int(GAP_S * sr),
                                                                      np.float32)])
    reps = int(3 * 3600 / (SEG_S + GAP_S))
    audio = np.tile(pattern, reps)
    segs = [Segment("customer", i * (SEG_S + GAP_S), i * (SEG_S + GAP_S) + SEG_S, TEXT)
            for i in range(reps)]
    call = CallInput(segments=segs, duration_s=len(audio) / sr, audio={"customer": audio},
                     sample_rate=sr)
    t0 = time.perf_counter()
    res = agitation.analyze(call, CFG, {})
    elapsed = time.perf_counter() - t0
    print(f"3 h call, {reps} segments: {elapsed:.2f} s")
    assert res["customer"]["segments"] == CFG["agitation"]["max_segments"]
    assert res["customer"]["sampled"] is True
    assert res["customer"]["level"] == "calm"
    assert elapsed < 20


def test_ten_minute_stereo_call_is_fast() -> None:
    per_role = 120  # 2 × 120 segments of 2 s over 10 minutes
    spans = [(i * 5.0, i * 5.0 + SEG_S) for i in range(per_role)]
    agent_spans = [(a + 2.5, b + 2.5) for a, b in spans]
    chunk, agent_chunk = voice(120, SEG_S, 0.05), voice(220, SEG_S, 0.05, seed=1)
    total = 600.0
    call = CallInput(
        segments=[Segment("customer", a, b, TEXT) for a, b in spans]
        + [Segment("agent", a, b, TEXT) for a, b in agent_spans],
        duration_s=total,
        audio={"customer": place(total, spans, [chunk] * per_role),
               "agent": place(total, agent_spans, [agent_chunk] * per_role)})
    t0 = time.perf_counter()
    res = agitation.analyze(call, CFG, {})
    elapsed = time.perf_counter() - t0
    print(f"10 min stereo call: {elapsed:.2f} s")
    assert res["customer"]["segments"] == per_role
    assert elapsed < 10


def test_real_corpus_call_is_well_formed() -> None:
    name = "04_abusive_complaint"
    with (CALLS / name / "stereo.wav").open("rb") as f:
        audio = decode(f)
    call = call_input(name)
    call.audio = {"agent": audio.channels[0], "customer": audio.channels[1]}
    res = agitation.analyze(call, CFG, {})
    check_shape(res)
    assert res["available"] is True
    for role in ("agent", "customer"):
        print(role, res[role]["level"], res[role]["baseline"],
              [(e["segment"], e["level"], e["score"]) for e in res[role]["episodes"]])
        assert res[role]["level"] is not None
    assert 70 < res["customer"]["baseline"]["f0_hz"] < 200  # male voice (jm_kumo)
    assert res["agent"]["baseline"]["f0_hz"] > 180  # female voice (jf_alpha)
