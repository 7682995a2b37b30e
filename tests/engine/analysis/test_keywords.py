"""Keyword lists match through the one normaliser."""

from rokuon.engine.analysis import keywords
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import seg

CFG = load_config()


def hits(text: str, speaker: str = "agent", cfg: dict = CFG) -> list[dict]:
    return keywords.analyze(CallInput(segments=[seg(speaker, 0, 4, text)], duration_s=4), cfg,
                            {})


def test_spelling_variants_match() -> None:
    for text in ("それは出来ません。", "それはできません。", "多分大丈夫です", "たぶん大丈夫です"):
        assert [h["list"] for h in hits(text)] == ["ng"], text


def test_width_variants_match_custom_list() -> None:
    cfg = {**CFG, "keywords": {"custom": {"speaker": "any", "words": ["ポイントカード", "ABC123"]}}}
    got = hits("ﾎﾟｲﾝﾄｶｰﾄﾞの番号はＡＢＣ１２３です", "customer", cfg)
    assert sorted(h["word"] for h in got) == ["ABC123", "ポイントカード"]
    text = "ﾎﾟｲﾝﾄｶｰﾄﾞの番号はＡＢＣ１２３です"
    assert [text[h["chars"][0]:h["chars"][1]] for h in got][0] == "ﾎﾟｲﾝﾄｶｰﾄﾞ"


def test_speaker_filter_and_good_words() -> None:
    assert hits("できません", "customer") == []  # NG list applies to the agent
    got = hits("かしこまりました。恐れ入りますが、お名前を。")
    assert {h["word"] for h in got} == {"かしこまりました", "恐れ入りますが"}
    assert all(h["list"] == "good" for h in got)


def test_no_false_match_across_words() -> None:
    assert hits("できかねます") == []  # polite refusal is not the NG できません


def test_reading_matches_misspellings_but_not_homophone_words() -> None:
    cfg = {**CFG, "keywords": {**CFG["keywords"],
                               "custom": {"speaker": "any", "words": ["解約", "他社"]}}}
    got = hits("開約の件と、多社のことです", "customer", cfg)
    assert [(h["word"], h["matched"]) for h in got] == [("解約", "reading"), ("他社", "reading")]
    assert [h["matched"] for h in hits("解約の件です", "customer", cfg)] == ["text"]
    # homophones that are words of their own, and readings across word boundaries
    assert hits("他者の意見と、いい機会約束です", "customer", cfg) == []
    # NG words: a common word sharing the reading is not the NG word
    assert hits("あいにく生姜ないんです") == []
    off = {**cfg, "keywords": {"custom": {"speaker": "any", "words": ["解約"],
                                          "matching": {"reading": False}}}}
    assert hits("開約の件", "customer", off) == []
