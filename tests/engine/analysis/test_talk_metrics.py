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


def test_own_pause_is_talk_unless_the_other_party_starts_in_it() -> None:
    inp = CallInput(segments=[seg("agent", 0, 6, "あ"), seg("customer", 8, 9.5, "い")],
                    duration_s=12.0,
                    speech={"agent": [(0.0, 2.0), (2.6, 4.0), (5.0, 6.0)],
                            "customer": [(8.0, 9.5)]})
    m = run(inp)
    assert m["agent_talk_s"] == 5.0  # the 0.6 s pause is talk, the 1.0 s one is not
    assert m["silence_s"] == pytest.approx(12.0 - 5.0 - 1.5, abs=0.01)
    inp.speech["customer"] = [(2.1, 2.5), (8.0, 9.5)]  # 「はい」 in the agent's pause
    assert run(inp)["agent_talk_s"] == 4.4


def test_overlap_counts_only_voiced_time_and_padding_is_gone() -> None:
    inp = CallInput(segments=[seg("agent", 0, 5, "あ"), seg("customer", 5.3, 9, "い")],
                    duration_s=10.0,
                    speech={"agent": [(0.0, 5.0)], "customer": [(5.3, 9.0)]})
    m = run(inp)
    assert m["overlap_s"] == 0 and m["interruptions"] == 0
    assert m["parties"]["customer"]["response_latency_s"] == pytest.approx(0.3)


def test_turn_change_overlap_and_simultaneous_start_are_not_interruptions() -> None:
    # the customer starts 0.2 s before the agent ends (a turn change), then both start
    # together: overlaps, but nobody cut in on anybody mid-turn
    inp = CallInput(segments=[seg("agent", 0, 5, "あ"), seg("customer", 4.8, 8, "い"),
                              seg("agent", 10, 12, "う"), seg("customer", 10.1, 12, "え")],
                    duration_s=13.0,
                    speech={"agent": [(0.0, 5.0), (10.0, 12.0)],
                            "customer": [(4.8, 8.0), (10.1, 12.0)]})
    m = run(inp)
    assert m["interruptions"] == 0 and m["overlap_s"] == pytest.approx(2.1)


def test_cut_in_during_a_sentence_pause_of_a_continuing_turn_is_an_interruption() -> None:
    inp = CallInput(segments=[seg("agent", 0, 8, "あ"), seg("customer", 3.2, 6, "い")],
                    duration_s=9.0,
                    speech={"agent": [(0.0, 3.0), (3.5, 8.0)], "customer": [(3.2, 6.0)]})
    m = run(inp)
    assert m["interruptions_detail"] == [{"by": "customer", "on": "agent", "at": 3.2}]
    assert m["overlap_s"] == pytest.approx(2.5)


def test_mono_word_times_are_trimmed_to_the_mixed_activity() -> None:
    a = seg("agent", 0.0, 4.0, "はい")
    a.words = [Word("はい", 0.0, 1.6, 0.9), Word("確認", 1.6, 4.0, 0.9)]
    c = seg("customer", 4.2, 6.0, "ええ")
    c.words = [Word("ええ", 4.2, 6.0, 0.9)]
    inp = CallInput(segments=[a, c], duration_s=10.0,
                    activity=[(0.5, 1.5), (1.7, 3.0), (4.5, 5.5), (7.0, 7.5)])
    m = run(inp)
    assert m["source"] == "words+activity"
    assert m["agent_talk_s"] == pytest.approx(2.5) and m["customer_talk_s"] == 1.0
    # 7.0–7.5 is voiced though no word covers it: not silence either
    assert m["silence_s"] == pytest.approx(0.5 + 1.5 + 1.5 + 2.5, abs=0.01)


@pytest.mark.parametrize("call", ["04_abusive_complaint", "11_hold", "18_churn_interrupt"])
def test_corpus_call_metrics_on_target(call: str) -> None:
    """The labelled text and times with each channel's tight activity, as the analyze
    step builds them: talk and silence within ±1.5 s or 10 %, overlap within 1 s,
    interruptions exact."""
    from rokuon.engine.asr.transcribe import in_seconds, speech_chunks
    from rokuon.engine.audio.activity import tight_activity
    from rokuon.engine.audio.decode import decode

    from .corpus import CALLS

    t = truth(call)
    with (CALLS / call / "stereo.wav").open("rb") as fh:
        audio = decode(fh)
    inp = call_input(call)
    inp.speech = {r: tight_activity(ch, regions=in_seconds(speech_chunks(ch)))
                  for r, ch in zip(t["stereo_channels"], audio.channels, strict=True)}
    m = run(inp)
    utts = t["utterances"]
    for role in ("agent", "customer"):
        said = sum(u["end"] - u["start"] for u in utts if u["speaker"] == role)
        assert abs(m[f"{role}_talk_s"] - said) <= max(1.5, 0.1 * said), role
    heard = talk_metrics.merge([(u["start"], u["end"]) for u in utts])
    silence = t["duration_s"] - talk_metrics.total(heard)
    assert abs(m["silence_s"] - silence) <= max(1.5, 0.1 * silence)
    overlaps = t["labels"]["overlaps"]
    assert abs(m["overlap_s"] - sum(e - s for s, e in overlaps)) <= 1.0
    assert [(i["by"], i["at"]) for i in m["interruptions_detail"]] == [
        ("customer", s) for s, _ in overlaps]


def test_words_count_where_no_activity_was_found() -> None:
    """Activity found nothing (odd audio, a transcript made elsewhere) but words were
    transcribed: the words are the talk, not zero."""
    a = seg("agent", 1.0, 3.0, "はい")
    a.words = [Word("はい", 1.0, 3.0, 0.9)]
    c = seg("customer", 4.0, 5.0, "ええ")
    mono = run(CallInput(segments=[a, c], duration_s=6.0, activity=[]))
    assert mono["agent_talk_s"] == 2.0 and mono["customer_talk_s"] == 1.0
    stereo = run(CallInput(segments=[a, c], duration_s=6.0,
                           speech={"agent": [(1.2, 2.8)], "customer": []}))
    assert stereo["agent_talk_s"] == 1.6 and stereo["customer_talk_s"] == 1.0


def test_mono_corpus_call_on_target() -> None:
    """Mono: the parties' times (here the labelled utterances, as a diarized transcript
    would give them) trimmed to the mixed audio's tight activity."""
    from rokuon.engine.audio.activity import tight_activity
    from rokuon.engine.audio.decode import decode

    from .corpus import CALLS

    call = "04_abusive_complaint"
    t = truth(call)
    with (CALLS / call / "mono.wav").open("rb") as fh:
        mixed = decode(fh).channels[0]
    inp = call_input(call)
    inp.activity = tight_activity(mixed)
    m = run(inp)
    assert m["source"] == "words+activity"
    utts = t["utterances"]
    for role in ("agent", "customer"):
        said = sum(u["end"] - u["start"] for u in utts if u["speaker"] == role)
        assert abs(m[f"{role}_talk_s"] - said) <= max(1.5, 0.1 * said), role
    heard = talk_metrics.merge([(u["start"], u["end"]) for u in utts])
    silence = t["duration_s"] - talk_metrics.total(heard)
    assert abs(m["silence_s"] - silence) <= max(1.5, 0.1 * silence)
    assert m["interruptions"] == len(t["labels"]["overlaps"])
