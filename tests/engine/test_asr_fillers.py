"""Fillers Whisper spelt as words are written back as fillers, and only where a filler
can stand (engine/asr/fillers.py). The word sequences are Whisper base's own output on
corpus calls 10 and 31 (pieces, times and probabilities as it gave them)."""

from __future__ import annotations

from rokuon.engine.analysis.fillers import hits_in
from rokuon.engine.asr.fillers import restore, restore_words
from rokuon.engine.types import Segment, Word


def _words(*pieces: str, start: float = 0.0, step: float = 0.2,
           gaps: dict[int, float] | None = None) -> list[Word]:
    """Consecutive words; ``gaps``: a pause of that many seconds before word i."""
    out, t = [], start
    for i, p in enumerate(pieces):
        t += (gaps or {}).get(i, 0.0)
        out.append(Word(p, round(t, 3), round(t + step, 3), 0.8))
        t += step
    return out


def _text(words: list[Word]) -> str:
    return "".join(w.text for w in words)


def _seg(words: list[Word], speaker: str = "agent") -> Segment:
    return Segment(speaker=speaker, start=words[0].start, end=words[-1].end,
                   text=_text(words), words=words)


FILLER_CFG = {"fillers": {"ja": ["えー", "えーと", "えっと", "あのー", "あの", "うーん", "まあ"],
                          "ja_standalone_only": ["あの", "まあ"]}}


def test_whisper_spellings_of_fillers_become_fillers() -> None:
    # call 10, agent: 「えーと、少し確認しますね。あのー、書類はですね、えー、昨日…」
    words = _words("A", "と", "少", "し", "確", "認", "します", "ね。", "あの", "処", "理",
                   "は", "ですね、", "A", "機", "能", "を", "届", "いて", "お", "ります。")
    out, n = restore_words(words)
    assert _text(out) == "えーと、少し確認しますね。あの処理はですね、えー、機能を届いております。"
    assert n == 2
    # the filler keeps the time of the pieces it replaces
    assert (out[0].start, out[0].end) == (words[0].start, words[1].end)
    # call 31, customer: 「うーん、えーと、大丈夫です」
    out, n = restore_words(_words("運", "絵", "と", "大丈夫", "です"))
    assert (_text(out), n) == ("うーん、えーと、大丈夫です", 2)


def test_ano_becomes_a_filler_only_where_the_demonstrative_cannot_stand() -> None:
    cases = {
        ("A", "と", "他", "に、", "あの", "何", "か", "ございます", "か。"):
            "えーと、他に、あのー、何かございますか。",  # interrogative after it
        ("には、", "あの", "3", "日", "ほど"): "には、あのー、3日ほど",  # a number after it
        ("あの", "処", "理", "は", "届", "き", "ました", "か。"): "あの処理は届きましたか。",
        ("あの", "書類", "は"): "あの書類は",  # the demonstrative: unchanged
    }
    for pieces, want in cases.items():
        assert _text(restore_words(_words(*pieces))[0]) == want
    # split into two pieces and after a pause (call 31: 「…大丈夫です」 0.7 s 「あの何か」)
    words = _words("です", "あ", "の", "何", "か", gaps={1: 0.7})
    assert _text(restore_words(words)[0]) == "ですあのー、何か"


def test_words_used_as_words_are_left_alone() -> None:
    for pieces in (("絵", "を", "描", "き", "ました"),  # 絵 as a noun: particle after it
                   ("運", "が", "良", "かった"),
                   ("A", "社", "の", "方"),  # a suffix: A社
                   ("A", "プラン", "で"),  # a Latin letter before katakana: a name
                   ("プラン", "A", "と", "B")):  # not at the start of a phrase
        words = _words(*pieces)
        out, n = restore_words(words)
        assert (n, _text(out)) == (0, _text(words)), pieces


def test_mid_sentence_spellings_need_a_phrase_start() -> None:
    # 「…みたいで運」: 運 follows with no pause and no mark: a word of the sentence
    words = _words("みたい", "で", "運")
    assert restore_words(words)[1] == 0
    # the same after a pause is a phrase start
    words = _words("みたい", "で", "運", gaps={2: 0.4})
    assert _text(restore_words(words)[0]) == "みたいで運"[:-1] + "うーん"


def test_restored_segments_are_counted_by_the_filler_analyzer() -> None:
    seg = _seg(_words("絵", "と", "確", "認", "に", "いた", "します", "ね。", "あの", "3",
                      "日", "ほど", "か", "か", "ります。"))
    assert [h[0] for h in hits_in(seg, FILLER_CFG)] == []  # as Whisper wrote it
    [fixed] = restore([seg])
    assert fixed.text == "えーと、確認にいたしますね。あのー、3日ほどかかります。"
    assert [h[0] for h in hits_in(fixed, FILLER_CFG)] == ["えーと", "あのー"]
    assert fixed.words[0].text == "えーと、" and fixed.start == seg.start


def test_other_languages_and_segments_without_words_are_unchanged() -> None:
    en = Segment(speaker="customer", start=0, end=1, text="A and B",
                 words=_words("A", " and", " B"))
    marked = Segment(speaker="customer", start=0, end=1, text="絵と", language="und",
                     words=_words("絵", "と"))
    bare = Segment(speaker="agent", start=0, end=1, text="Aと確認")
    assert restore([en, marked, bare]) == [en, marked, bare]
