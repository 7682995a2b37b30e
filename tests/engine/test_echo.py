"""Whisper repeating its prompt (hotwords, verbatim prompt) is cut out of the text."""

from __future__ import annotations

from rokuon.engine.asr.echo import cut_echo, terms_of
from rokuon.engine.asr.hallucination import RawSegment, RawWord, guard

HOT = terms_of("山田商事、他社、スカイモバイル、ミドリ通信、録音、解約する")
PROMPT = terms_of("えーと、はい。あのー、えー、そうですね、まあ、お願いします。")


def seg(words: list[str], start: float = 1.0) -> RawSegment:
    ws = [RawWord(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(words)]
    return RawSegment(start=ws[0].start, end=ws[-1].end, text="".join(words), words=ws)


def test_a_run_of_hotwords_after_real_words_is_cut_with_its_words() -> None:
    s = seg(["メロス", "は", "激怒", "した", "スカイモバイル", "、", "ミドリ", "通信", "、",
             "録音"])
    assert cut_echo(s, HOT, 3) == "cut"
    assert s.text == "メロスは激怒した" and [w.text for w in s.words][-1] == "した"
    assert s.end == s.words[-1].end


def test_a_segment_that_is_only_the_echo_goes_and_is_recorded() -> None:
    segs = [seg(["お電話", "ありがとう", "ございます"]),
            seg(["他社", "、", "スカイモバイル", "、", "ミドリ", "通信"], start=5.0)]
    kept, dropped = guard(segs, None, [(HOT, 3, False)])
    assert [k.text for k in kept] == ["お電話ありがとうございます"]
    assert dropped == [{"start": 5.0, "end": 6.75, "text": "他社、スカイモバイル、ミドリ通信",
                        "reason": "prompt_echo"}]


def test_real_speech_with_two_terms_or_common_fillers_is_kept() -> None:
    a = seg(["録音", "の", "件", "で", "解約する", "か", "迷って"])  # terms, not in a row
    assert cut_echo(a, HOT, 3) is None
    b = seg(["えーと", "、", "はい", "、", "大丈夫", "です"])  # two prompt phrases: speech
    assert cut_echo(b, PROMPT, 4) is None
    c = seg(["えーと", "、", "はい", "。", "あのー", "、", "えー", "、", "そうですね"])
    assert cut_echo(c, PROMPT, 4, ordered=True) == "all"
    d = seg(["えー", "、", "あのー", "、", "えーと", "、", "まあ", "はい"])  # hesitation
    assert cut_echo(d, PROMPT, 4, ordered=True) is None
