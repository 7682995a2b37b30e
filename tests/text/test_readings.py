"""Readings and the reading matcher: what speech recognition misspells but sounds the
same matches; homophones that are words of their own, negations and changed
auxiliaries do not."""

from __future__ import annotations

import pytest

from rokuon.text.readings import (
    best_window,
    find,
    mora_distance,
    morae,
    normalize_reading,
    reading,
)


def spans(text: str, phrase: str, **kw: object) -> list[str]:
    return [text[h.start:h.end] for h in find(text, phrase, **kw)]  # type: ignore[arg-type]


def test_one_spelling_per_sound() -> None:
    assert normalize_reading("ろくおん") == normalize_reading("ロクオン") == "ロクオン"
    assert normalize_reading("トーキョー") == normalize_reading("トウキョウ") == "トオキョオ"
    assert normalize_reading("ヲ") == "オ"
    assert morae("キャンセル") == ["キャ", "ン", "セ", "ル"]
    # a lengthened vowel Sudachi cuts off as a symbol still reads as that vowel
    assert reading("キャンペーン").text_reading() == reading("きゃんぺーん").text_reading()


def test_weighted_mora_distance() -> None:
    # ク→コ shares the consonant (0.5), the dropped vowel-only オ costs 0.5
    assert mora_distance(morae("ロクオン"), morae("ロコン")) == 1.0
    assert mora_distance(morae("ロクオン"), morae("ヨクオン")) == 0.5  # same vowel
    assert mora_distance(morae("カイヤク"), morae("カイヤク")) == 0.0
    assert mora_distance(morae("カ"), morae("ミ")) == 1.0
    cost, i, j = best_window(morae("ヤメテ"), morae("ロコンハヤメテクダサイ"))
    assert (cost, i, j) == (0.0, 4, 7)


@pytest.mark.parametrize(("text", "phrase", "want"), [
    ("開約したいんです", "解約したい", "開約したい"),  # 開 read ヒラケ by Sudachi: カイ here
    ("開約したいんです", "解約", "開約"),  # ends inside the token 約し
    ("開薬の手続き", "解約", "開薬"),
    ("通話をヨクオンさせていただきます", "録音させていただきます", "ヨクオンさせていただきます"),
    ("欲温させていただきます", "録音させていただきます", "欲温させていただきます"),
    ("ロコンはやめてください", "録音はやめて", "ロコンはやめて"),
    ("ロクオンはやめてください", "録音はやめて", "ロクオンはやめて"),  # katakana spelling
    ("責任車を出せ", "責任者を出せ", "責任車を出せ"),
    ("多社に乗り換えます", "他社", "多社"),
])
def test_misheard_spellings_match(text: str, phrase: str, want: str) -> None:
    assert spans(text, phrase) == [want]


@pytest.mark.parametrize(("text", "phrase"), [
    ("他者の目が気になる", "他社"),  # a homophone that is a word of its own
    ("記者の方です", "貴社"),
    ("お客様の情報を保存させていただきます", "録音させていただきます"),
    ("解約しないです", "解約したい"),  # negation
    ("ありがとうございます", "ありがとうございました"),  # tense auxiliary
    ("いただけますか", "いただけませんか"),
    ("あいにく生姜ないんです", "しょうがない"),
    ("録音を聞いてください", "録音を切って"),  # 聞い is a word, not a mishearing of 切っ
    ("確認のメールを送ります", "確認のため"),
    ("いい機会約束どおりに", "解約"),  # キカイ|ヤクソク: not on word boundaries
    ("この通話を欲温します", "録音"),  # short phrase: exact reading only
    ("えー、先月の件ですが", "ええ"),  # a filler is not the answer ええ
])
def test_other_words_do_not_match(text: str, phrase: str) -> None:
    assert find(text, phrase) == []


def test_guard_and_tolerance_are_what_decides() -> None:
    # without the guard the homophone matches: the guard is what refuses it
    assert spans("他者の目が気になる", "他社", guard=False) == ["他者"]
    # without tolerance only exact readings match
    assert find("ロコンはやめてください", "録音はやめて", tolerance=0.0) == []
    assert find("ロコンはやめてください", "録音はやめて", fuzzy_min_morae=99) == []


def test_a_search_query_may_itself_be_a_spelling() -> None:
    # the guard refuses 解約 for a list phrase written かいやく, but a query typed in
    # kana or copied from a misspelt transcript finds the real word
    assert find("解約の手続き", "かいやく") == []
    assert spans("解約の手続き", "かいやく", spelling=True) == ["解約"]
    assert spans("解約の手続き", "開約", spelling=True) == ["解約"]
    assert find("他者の目", "他社", spelling=True) == []


def test_search_reading_holds_both_readings() -> None:
    assert reading("開約したい").text_reading() == "ヒラケヤクシタイ・カイヤクシタイ"
    assert reading("解約したい").text_reading() == "カイヤクシタイ"
    assert reading("").text_reading() == ""
