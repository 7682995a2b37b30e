"""Talk metrics from voice activity / segments."""

import pytest

from rokuon.engine.analysis import talk_metrics
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import Word

from .corpus import call_input, seg, truth

CFG = load_config()


def run(inp: CallInput) -> dict:
    return talk_metrics.analyze(inp, CFG, {})


def test_talk_time_ratio_overlap_and_interruption_from_vad() -> None:
    inp = CallInput(segments=[seg("agent", 0, 10, "あ"), seg("customer", 8, 14, "い")],
                    duration_s=30.0,
                    speech={"agent": [(0.0, 10.0)], "customer": [(8.0, 14.0)]})
    m = run(inp)
    assert m["agent_talk_s"] == 10.0 and m["customer_talk_s"] == 6.0
    assert m["talk_ratio"] == pytest.approx(10 / 6, abs=1e-3)
    assert m["overlap_s"] == 2.0
    assert m["interruptions"] == 1
    assert m["interruptions_detail"][0] == {"by": "customer", "on": "agent", "at": 8.0}
    assert m["silence_s"] == 16.0  # 14 → 30
    assert m["hold"]["longest_s"] == 16.0 and m["hold"]["stretches"] == [
        {"start": 14.0, "end": 30.0}]
    assert m["source"] == "vad"


def test_backchannel_is_not_an_interruption() -> None:
    inp = CallInput(segments=[seg("agent", 0, 10, "あ"), seg("customer", 5, 5.4, "はい")],
                    duration_s=10.0,
                    speech={"agent": [(0.0, 10.0)], "customer": [(5.0, 5.4)]})
    m = run(inp)
    assert m["interruptions"] == 0 and m["overlap_s"] == pytest.approx(0.4)


def test_word_times_are_used_without_vad() -> None:
    s = seg("agent", 0.0, 10.0, "はい 確認")
    s.words = [Word("はい", 0.0, 1.0, 0.9), Word("確認", 8.0, 9.0, 0.9)]
    m = run(CallInput(segments=[s], duration_s=10.0))
    assert m["agent_talk_s"] == 2.0 and m["source"] == "words"
    assert m["talk_ratio"] is None and m["notes"]  # one-sided


def test_hold_in_corpus_call() -> None:
    t = truth("11_hold")
    m = run(call_input("11_hold"))
    (hs, he), = t["labels"]["hold_s"]
    assert m["hold"]["longest_s"] == pytest.approx(he - hs, abs=0.5)
    assert m["parties"]["agent"]["speech_rate_mora_per_min"] > 200
    assert m["parties"]["customer"]["response_latency_s"] is not None


def test_monologue_and_latency() -> None:
    inp = CallInput(segments=[seg("agent", 0, 5, "あ"), seg("agent", 5.5, 12, "い"),
                              seg("customer", 13, 15, "う"), seg("agent", 16, 18, "え")],
                    duration_s=20.0)
    m = run(inp)
    assert m["parties"]["agent"]["longest_monologue_s"] == 12.0
    assert m["parties"]["customer"]["response_latency_s"] == 1.0
    assert m["parties"]["agent"]["response_latency_s"] == 1.0


def test_empty_call() -> None:
    m = run(CallInput(segments=[], duration_s=5.0))
    assert m["agent_talk_s"] == 0 and m["silence_s"] == 5.0 and "no speech transcribed" in m[
        "notes"]
