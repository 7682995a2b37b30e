"""Lexicon sentiment: polarity cues on dictionary forms, negation, intensifiers,
formulae, per-speaker summaries, and the labelled corpus."""

from __future__ import annotations

import time

import pytest

from rokuon.engine.analysis import sentiment
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import call_input, names, seg, truth

CFG = load_config()


def score(text: str, speaker: str | None = None) -> float:
    return sentiment.score_text(text, CFG, speaker=speaker)[0]


def run(lines: list[tuple[str, str]], cfg: dict = CFG) -> dict:
    segs = [seg(who, 3.0 * i, 3.0 * i + 2.5, text) for i, (who, text) in enumerate(lines)]
    return sentiment.analyze(CallInput(segments=segs, duration_s=3.0 * len(lines)), cfg, {})


@pytest.mark.parametrize("text", [
    "注文した商品がまだ届かないんですけど。",
    "何度電話させるんだ。",
    "本当に困っています。",
    "対応がひどすぎる。",
    "いい加減にしてください。",
    "いいかげんにしてください。",
    "説明に納得できません。",
    "料金が高いので解約したいです。",
    "もう最悪です。",
])
def test_complaints_score_negative(text: str) -> None:
    s, cues = sentiment.score_text(text, CFG)
    assert s <= -0.3, (text, s, cues)
    assert cues


@pytest.mark.parametrize("text", [
    "丁寧に説明していただいて助かりました。",
    "よかったです。安心しました。",
    "ありがとう、嬉しいです。",
    "すぐに解決しました。",
])
def test_thanks_and_relief_score_positive(text: str) -> None:
    assert score(text) >= 0.3, text


def test_negation_flips() -> None:
    assert score("安心しました") > 0 > score("安心できません")
    assert score("届きました") == 0.0 and score("届きませんでした") < 0  # 届く: only negated
    assert score("問題があります") < 0 < score("問題ありません")
    assert score("問題ない") > 0
    assert score("大丈夫じゃないです") < 0 < score("大丈夫です")
    # a negated negative is weakly positive, never a strong positive
    assert 0 < score("問題ありません") < 0.3


def test_spelling_and_conjugation_variants_agree() -> None:
    assert score("出来ません、納得") == score("できません、納得")
    assert score("ひどい") == score("酷い") < 0
    assert score("届かない") == pytest.approx(score("届いていません"), abs=1e-9)


def test_churn_refusal_is_not_strongly_negative() -> None:
    s, cues = sentiment.score_text("あの件で確認なのですが、解約するつもりはありません。", CFG)
    assert s > -0.15, (s, cues)
    assert score("解約したいです") < 0


def test_intensifiers_strengthen() -> None:
    assert score("とても困っています") < score("困っています") < 0
    assert score("本当に助かりました") > score("助かりました") > 0


def test_politeness_formulae_count_little_and_not_for_the_agent() -> None:
    closing = score("ありがとうございました。")
    assert 0 < closing < 0.15  # neutral on its own
    assert score("ありがとうございました。", speaker="agent") == 0.0
    assert score("ありがとう、助かりました") > closing
    # apologies carry 迷惑/不便 but say nothing about the speaker's mood
    assert score("ご迷惑をおかけして、誠に申し訳ございません。", speaker="agent") == 0.0
    assert score("ご不便をおかけしております。") == 0.0
    assert score("お待たせいたしました。") == 0.0 > score("ずいぶん待たされました。")
    # an agent's procedural 解約 is not negative, the customer's wish is
    assert score("解約のお手続きをご案内いたします。", speaker="agent") == 0.0


def test_cues_quote_the_text() -> None:
    _, cues = sentiment.score_text("まだ届いていないのですが、とても困っています。", CFG)
    assert cues == ["届いていない", "とても困っています"]


def test_english_lexicon() -> None:
    assert score("The parcel never arrived and I am very angry.") < -0.5
    assert score("Thanks, that was really helpful!") > 0.3
    assert score("no problem") > 0 > score("there is a problem")
    assert score("it doesn't work") < 0
    res = run([("customer", "This is terrible, I want to cancel."), ("agent", "I see.")])
    assert res["customer"]["label"] == "negative"
    assert any("English" in n for n in res["notes"])


@pytest.mark.parametrize("text", [
    "", "   ", "。。。！？", "12345", "ｱｲｳｴｵ", "a" * 5000, "困" * 30_000,
    "\x00\ufffd\u200b", "🙂🙂", "はい", "ふざけるな" * 200, "0の" * 20_000, "えー" * 20_000,
])
def test_odd_text_is_safe(text: str) -> None:
    t0 = time.perf_counter()
    s, cues = sentiment.score_text(text, CFG)
    assert time.perf_counter() - t0 < 2.0
    assert -1.0 <= s <= 1.0
    assert isinstance(cues, list) and len(cues) <= sentiment.MAX_CUES


def test_defaults_without_config_and_section_only() -> None:
    assert sentiment.score_text("困ります", {})[0] < 0
    assert sentiment.score_text("困ります", CFG["sentiment"]) == sentiment.score_text(
        "困ります", CFG)


def test_installation_can_add_a_word() -> None:
    words = {**CFG["sentiment"]["words"], "ぼったくり": -0.9}
    cfg = {**CFG, "sentiment": {**CFG["sentiment"], "words": words}}
    assert sentiment.score_text("ぼったくりだ", cfg)[0] < -0.5
    assert sentiment.score_text("ぼったくりだ", CFG)[0] == 0.0


def test_speaker_summary_trend_and_min() -> None:
    res = run([
        ("customer", "商品が壊れていて本当に困っています。"),
        ("agent", "大変申し訳ございません。すぐに交換いたします。"),
        ("customer", "前にも同じことがありました。"),
        ("agent", "新しい商品を明日お届けします。"),
        ("customer", "はい"),
        ("customer", "それなら安心しました。ありがとう、助かりました。"),
    ])
    cust = res["customer"]
    assert set(cust) >= {"score", "label", "trend", "first_half", "second_half", "min"}
    assert cust["first_half"] < 0 < cust["second_half"]
    assert cust["trend"] == "improving"
    assert cust["min"]["segment"] == 0 and cust["min"]["score"] < -0.5
    assert cust["counted"] == 3  # はい is a back-channel, not counted
    assert res["agent"]["label"] == "neutral"
    assert {u["segment"] for u in res["utterances"]} == {0, 2, 5}
    assert res["method"] == sentiment.METHOD
    assert res["notes"] == []


def test_empty_and_agent_only_calls() -> None:
    empty = sentiment.analyze(CallInput(segments=[], duration_s=0.0), CFG, {})
    assert empty["customer"]["label"] == "neutral" and "no text" in empty["notes"]
    res = run([("agent", "お電話ありがとうございます。")])
    assert res["customer"]["score"] == 0.0
    assert res["agent"]["label"] == "neutral"


def test_corpus_complaints_are_negative() -> None:
    complaint_neg = complaint_total = other_not_neg = other_total = 0
    rows = []
    for name in names():
        labels = truth(name)["labels"]
        res = sentiment.analyze(call_input(name), CFG, {})
        cust = res["customer"]
        rows.append(f"{name:32s} complaint={labels['complaint']!s:5s} "
                    f"customer={cust['score']:+.2f} {cust['label']}")
        if labels["complaint"]:
            complaint_total += 1
            complaint_neg += cust["label"] == "negative"
            assert cust["label"] == "negative", name
        else:
            other_total += 1
            other_not_neg += cust["label"] != "negative"
    print("\n".join(rows))
    print(f"complaint calls negative: {complaint_neg}/{complaint_total}; "
          f"other calls not negative: {other_not_neg}/{other_total}")
    assert complaint_total >= 2
    assert other_not_neg >= 0.8 * other_total


def test_corpus_is_fast() -> None:
    inputs = [call_input(n) for n in names()]
    t0 = time.perf_counter()
    for inp in inputs:
        sentiment.analyze(inp, CFG, {})
    assert time.perf_counter() - t0 < 2.0
