"""The hallucination guards as pure functions."""

from rokuon.engine.asr.hallucination import (
    RawSegment,
    collapse_loops,
    guard,
    is_phantom,
    voiced_fraction,
)


def seg(start: float, end: float, text: str, **kw: float) -> RawSegment:
    return RawSegment(start=start, end=end, text=text, **kw)


SPEECH = [(0.0, 5.0), (10.0, 15.0)]


def test_keeps_real_speech() -> None:
    kept, dropped = guard([seg(0.5, 4.0, "お電話ありがとうございます")], SPEECH)
    assert [k.text for k in kept] == ["お電話ありがとうございます"] and dropped == []


def test_drops_text_where_no_voice_was_heard() -> None:
    kept, dropped = guard([seg(6.0, 9.5, "ご来店をお待ちしております")], SPEECH)
    assert kept == [] and dropped[0]["reason"] == "no_voice_activity"


def test_drops_no_speech_low_confidence() -> None:
    kept, dropped = guard([seg(0.5, 2.0, "うん", no_speech_prob=0.9, avg_logprob=-1.5)],
                          SPEECH)
    assert kept == [] and dropped[0]["reason"] == "no_speech"


def test_phantom_phrases_only_when_alone() -> None:
    assert is_phantom("ご視聴ありがとうございました。")
    assert is_phantom("Thank you for watching!")
    assert not is_phantom("ご視聴ありがとうございましたと言われました")
    assert not is_phantom("お電話ありがとうございました")
    kept, dropped = guard([seg(11.0, 13.0, "ご視聴ありがとうございました")], SPEECH)
    assert kept == [] and dropped[0]["reason"] == "phantom_phrase"


def test_loops_are_collapsed_or_dropped() -> None:
    assert collapse_loops("はいはいはいはいはいはい") == "はい"
    assert collapse_loops("ありがとうございます") == "ありがとうございます"
    kept, dropped = guard([seg(0.1, 4.0, "そうですねそうですねそうですねそうですねそうですね")],
                          SPEECH)
    assert kept[0].text == "そうですね" and dropped[0]["reason"] == "repetition_collapsed"
    kept, dropped = guard([seg(0.1, 4.0, "あああああああああああああ", compression_ratio=5.0,
                               avg_logprob=-1.6)], SPEECH)
    assert kept == [] and dropped[0]["reason"] == "repetition_loop"


def test_repeated_segment_dropped() -> None:
    kept, dropped = guard([seg(0.5, 2.0, "少々お待ちください"),
                           seg(2.5, 4.0, "少々お待ちください。")], SPEECH)
    assert len(kept) == 1 and dropped[0]["reason"] == "repeated_segment"


def test_voiced_fraction() -> None:
    assert voiced_fraction(4.0, 6.0, SPEECH) == 0.5
    assert voiced_fraction(6.0, 9.0, SPEECH) == 0.0
    assert voiced_fraction(1.0, 2.0, SPEECH) == 1.0


def test_regex_is_not_slow_on_hostile_text() -> None:
    import time

    text = "あい" * 5000 + "う"
    t0 = time.perf_counter()
    collapse_loops(text)
    assert time.perf_counter() - t0 < 2.0


def test_voice_activity_checked_on_demand_for_suspicious_segments_only() -> None:
    from rokuon.engine.asr.hallucination import RawWord

    asked: list[tuple[float, float]] = []

    def voiced(a: float, b: float) -> float:
        asked.append((a, b))
        return 0.0

    confident = seg(0.5, 2.0, "承知しました", avg_logprob=-0.2, no_speech_prob=0.01)
    confident.words = [RawWord("承知", 0.5, 1.2, 0.95), RawWord("しました", 1.2, 2.0, 0.9)]
    doubtful = seg(6.0, 8.0, "ご来店お待ちしております", avg_logprob=-0.9, no_speech_prob=0.4)
    kept, dropped = guard([confident, doubtful], voiced)
    assert kept == [confident]
    assert dropped[0]["reason"] == "no_voice_activity" and asked == [(6.0, 8.0)]
