"""The hallucination guards as pure functions."""

import time

import pytest

from rokuon.engine.asr.hallucination import (
    RawSegment,
    RawWord,
    collapse_loops,
    collapse_segment_loops,
    guard,
    is_outro,
    is_phantom,
    voiced_fraction,
)


def seg(start: float, end: float, text: str, **kw: float) -> RawSegment:
    return RawSegment(start=start, end=end, text=text, **kw)


def worded(start: float, pieces: list[str], p: float = 0.9, step: float = 0.3,
           **kw: float) -> RawSegment:
    words = [RawWord(w, start + i * step, start + (i + 1) * step, p)
             for i, w in enumerate(pieces)]
    return RawSegment(start=start, end=words[-1].end, text="".join(pieces), words=words, **kw)


SPEECH = [(0.0, 5.0), (10.0, 15.0), (30.0, 32.0)]


def reasons(dropped: list[dict]) -> list[str]:
    return [d["reason"] for d in dropped]


def test_keeps_real_speech() -> None:
    kept, dropped = guard([seg(0.5, 4.0, "お電話ありがとうございます")], SPEECH)
    assert [k.text for k in kept] == ["お電話ありがとうございます"] and dropped == []


def test_drops_text_where_no_voice_was_heard() -> None:
    kept, dropped = guard([seg(6.0, 9.5, "ご来店をお待ちしております")], SPEECH)
    assert kept == [] and reasons(dropped) == ["no_voice_activity"]
    assert dropped[0] == {"start": 6.0, "end": 9.5, "text": "ご来店をお待ちしております",
                          "reason": "no_voice_activity"}


def test_without_voice_activity_information_nothing_is_dropped_for_it() -> None:
    kept, _ = guard([seg(6.0, 9.5, "ご来店をお待ちしております")], None)
    assert len(kept) == 1


def test_drops_no_speech_low_confidence() -> None:
    kept, dropped = guard([seg(0.5, 2.0, "うん", no_speech_prob=0.9, avg_logprob=-1.5)],
                          SPEECH)
    assert kept == [] and reasons(dropped) == ["no_speech"]
    kept, _ = guard([seg(0.5, 2.0, "うん", no_speech_prob=0.9, avg_logprob=-0.3)], SPEECH)
    assert len(kept) == 1  # Whisper unsure there is speech, but confident in the words


def test_empty_and_punctuation_only() -> None:
    kept, dropped = guard([seg(0.5, 1.0, "。、…"), seg(1.0, 2.0, " ")], SPEECH)
    assert kept == [] and reasons(dropped) == ["empty", "empty"]


def test_phantom_phrases_only_when_alone() -> None:
    assert is_phantom("ご視聴ありがとうございました。")
    assert is_phantom("ご視聴ありがとうございました")
    assert is_phantom("Thank you for watching!")
    assert is_phantom("チャンネル登録をお願いします")
    assert is_phantom("字幕:山田")
    assert is_phantom("(字幕作成:佐藤)")
    assert is_phantom("(音楽)") and is_phantom("【拍手】") and is_phantom("♪〜")
    assert not is_phantom("ご視聴ありがとうございましたと言われました")
    assert not is_phantom("お電話ありがとうございました")
    assert not is_phantom("字幕の設定が分からないんです")
    assert not is_phantom("(1)の件です、それと(2)も")
    kept, dropped = guard([seg(11.0, 13.0, "ご視聴ありがとうございました")], SPEECH)
    assert kept == [] and reasons(dropped) == ["phantom_phrase"]


def test_outros_only_when_isolated_and_low_confidence() -> None:
    assert is_outro("おやすみなさい。") and is_outro("Thank you.")
    assert not is_outro("おやすみなさいませ、と言っていました")
    lonely = worded(30.2, ["おやすみ", "なさい"], p=0.3)
    kept, dropped = guard([seg(0.5, 4.0, "承知しました"), lonely], SPEECH)
    assert [k.text for k in kept] == ["承知しました"]
    assert reasons(dropped) == ["phantom_outro"]
    confident = worded(30.2, ["おやすみ", "なさい"], p=0.9)
    assert len(guard([seg(0.5, 4.0, "承知しました"), confident], SPEECH)[0]) == 2
    in_conversation = worded(31.0, ["お疲れ様", "でした"], p=0.3)
    kept, _ = guard([seg(30.0, 30.9, "では失礼します"), in_conversation], SPEECH)
    assert len(kept) == 2  # low-confidence but in the middle of speech: kept


def test_loops_are_collapsed_or_dropped() -> None:
    assert collapse_loops("はいはいはいはいはいはい") == "はい"
    assert collapse_loops("えっとはいはいはいはいわかりました") == "えっとはいわかりました"
    assert collapse_loops("ありがとうございます") == "ありがとうございます"
    assert collapse_loops("はいはいはい") == "はいはいはい"  # three times is speech
    kept, dropped = guard([seg(0.1, 4.0, "そうですねそうですねそうですねそうですねそうですね")],
                          SPEECH)
    assert kept[0].text == "そうですね" and reasons(dropped) == ["repetition_collapsed"]
    assert dropped[0]["text"].startswith("そうですねそうですね")
    kept, dropped = guard([seg(0.1, 4.0, "あああああああああああああ", compression_ratio=5.0,
                               avg_logprob=-1.6)], SPEECH)
    assert kept == [] and reasons(dropped) == ["repetition_loop"]


def test_numbers_are_never_loops() -> None:
    assert collapse_loops("1111111111111111") == "1111111111111111"
    assert collapse_loops("カード番号は4444444444444444です") == "カード番号は4444444444444444です"
    assert collapse_loops("0120000000") == "0120000000"


def test_loop_collapse_keeps_words_consistent_with_text() -> None:
    s = worded(0.0, ["えっと", "はい", "はい", "はい", "はい", "はい", "わかり", "ました"])
    assert collapse_segment_loops(s)
    assert s.text == "えっとはいわかりました"
    assert [w.text for w in s.words] == ["えっと", "はい", "わかり", "ました"]
    assert s.words[2].start == pytest.approx(1.8)  # the kept words keep their timings
    tail = worded(0.0, ["よろしく", "です", "ね", "です", "ね", "です", "ね", "です", "ね"])
    assert collapse_segment_loops(tail)
    assert tail.text == "よろしくですね" and tail.end == tail.words[-1].end == pytest.approx(0.9)


def test_repeated_segment_dropped_only_when_doubtful_or_unvoiced() -> None:
    first = worded(0.5, ["少々", "お待ち", "ください"])
    echo = worded(2.0, ["少々", "お待ち", "ください", "。"], p=0.3)
    kept, dropped = guard([first, echo], SPEECH)
    assert len(kept) == 1 and reasons(dropped) == ["repeated_segment"]
    # said twice, confidently, with voice: a person repeating themselves
    again = worded(2.0, ["少々", "お待ち", "ください"])
    assert len(guard([worded(0.5, ["少々", "お待ち", "ください"]), again], SPEECH)[0]) == 2
    # the same sentence much later is a new utterance
    later = worded(11.0, ["少々", "お待ち", "ください"], p=0.3)
    assert len(guard([worded(0.5, ["少々", "お待ち", "ください"]), later], SPEECH)[0]) == 2


def test_voiced_fraction() -> None:
    assert voiced_fraction(4.0, 6.0, SPEECH) == 0.5
    assert voiced_fraction(6.0, 9.0, SPEECH) == 0.0
    assert voiced_fraction(1.0, 2.0, SPEECH) == 1.0
    assert voiced_fraction(3.0, 3.0, SPEECH) == 1.0
    assert voiced_fraction(7.0, 7.0, SPEECH) == 0.0


def test_segments_are_guarded_in_time_order() -> None:
    kept, _ = guard([seg(11.0, 12.0, "二番目"), seg(1.0, 2.0, "一番目")], SPEECH)
    assert [k.text for k in kept] == ["一番目", "二番目"]


def test_regex_is_not_slow_on_hostile_text() -> None:
    text = "あい" * 5000 + "う"
    t0 = time.perf_counter()
    collapse_loops(text)
    assert time.perf_counter() - t0 < 2.0
    t0 = time.perf_counter()
    collapse_loops("".join(chr(0x3042 + i % 80) for i in range(20000)))
    assert time.perf_counter() - t0 < 2.0
