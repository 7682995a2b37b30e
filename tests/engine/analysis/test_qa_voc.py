"""QA scorecards (data, weighted, evidence per criterion) and VOC tags."""

from pathlib import Path

import pytest

from rokuon.engine import analysis
from rokuon.engine.analysis import qa, voc
from rokuon.engine.analysis.config import AnalysisConfigError, load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import call_input, seg

CFG = load_config()


def full(name: str, cfg: dict = CFG) -> dict:
    return {k: v[1] for k, v in analysis.run_all(call_input(name), cfg).items()}


def crit(res: dict, cid: str) -> dict:
    return next(c for c in res["qa"]["criteria"] if c["id"] == cid)


def test_polite_call_scores_high_with_evidence() -> None:
    res = full("01_billing_inquiry")
    q = res["qa"]
    assert q["scorecard"] == "default_ja" and q["passed"] and q["score"] >= 80
    g = crit(res, "greeting")
    assert g["passed"] and g["evidence"][0]["segment"] == 0 and g["evidence"][0]["start"] < 2
    assert crit(res, "apology")["applicable"] is False  # no complaint, no apology needed
    ann = crit(res, "recording_announcement")
    assert ann["passed"] and ann["evidence"][0]["start"] == pytest.approx(6.63)


def test_missing_announcement_costs_points() -> None:
    res = full("03_outbound_no_announcement")
    c = crit(res, "recording_announcement")
    assert c["passed"] is False and c["points"] == 0 and c["evidence"] == []
    assert res["qa"]["score"] < full("01_billing_inquiry")["qa"]["score"]


def test_apology_applies_after_a_complaint() -> None:
    res = full("13_two_female_complaint")
    c = crit(res, "apology")
    assert c["applicable"] and c["passed"]
    assert c["evidence"][0]["speaker"] == "agent"


def test_ng_words_fail_their_criterion() -> None:
    greeting = "お電話ありがとうございます。山田商事の佐藤でございます。"
    inp = CallInput(segments=[seg("agent", 0, 4, greeting),
                              seg("customer", 4, 6, "返品したいです。"),
                              seg("agent", 6, 9, "それはできません。たぶん無理です。")],
                    duration_s=10)
    res = {k: v[1] for k, v in analysis.run_all(inp, CFG).items()}
    c = crit(res, "no_ng_words")
    assert c["passed"] is False and len(c["evidence"]) == 3
    assert {e["word"] for e in c["evidence"]} == {"できません", "たぶん", "無理です"}


def test_scorecards_are_data(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "scorecards:\n  default_ja:\n    title: 短い\n    pass_score: 50\n    criteria:\n"
        "      - {id: thanks, label: 感謝, type: phrase_present, speaker: agent,"
        " phrases: [ありがとうございます], weight: 3}\n"
        "      - {id: upsell, label: 提案, type: phrase_present, speaker: agent,"
        " phrases: [おすすめ], weight: 1}\n", encoding="utf-8")
    cfg = load_config([str(extra)])
    res = full("01_billing_inquiry", cfg)
    assert [c["id"] for c in res["qa"]["criteria"]] == ["thanks", "upsell"]
    assert res["qa"]["score"] == 75.0 and res["qa"]["passed"]


def test_bad_scorecard_and_bad_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scorecards:\n  default_ja:\n    criteria:\n      - {id: x, type: magic}\n",
                   encoding="utf-8")
    res = full("01_billing_inquiry", load_config([str(bad)]))
    assert "unknown criterion type 'magic'" in res["qa"]["error"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("keywords: [unclosed", encoding="utf-8")
    with pytest.raises(AnalysisConfigError, match="broken.yaml"):
        load_config([str(broken)])
    with pytest.raises(AnalysisConfigError, match="not found"):
        load_config([str(tmp_path / "missing.yaml")])


def test_voc_tags() -> None:
    res = full("05_churn")
    v = res["voc"]
    assert v["churn"] is True and "他社" in v["competitors"]
    tags = {t["tag"] for t in v["tags"]}
    assert {"competitor", "churn", "topic"} <= tags
    assert all(t["speaker"] == "customer" for t in v["tags"] if t["tag"] == "competitor")
    req = voc.analyze(CallInput(segments=[seg("customer", 0, 3, "請求書の送り先を変えたいです。"),
                                          seg("customer", 3, 4, "はい、お願いします。")],
                                duration_s=4), CFG, {})
    assert [t["segment"] for t in req["tags"] if t["tag"] == "request"] == [0]
    assert "請求書" in req["topics"]


def test_english_scorecard_is_chosen_for_english_calls() -> None:
    inp = CallInput(segments=[seg("agent", 0, 4, "Thank you for calling Acme, my name is Kim.")],
                    duration_s=4, language="en")
    assert qa.choose(inp, CFG) == "default_en"
    res = {k: v[1] for k, v in analysis.run_all(inp, CFG).items()}
    assert crit(res, "greeting")["passed"] and crit(res, "self_introduction")["passed"]


def test_misheard_phrases_still_count_for_qa_but_not_for_ng_words() -> None:
    """Whisper base heard お電話ありがとうございます as 「オーテンは、ありがとうございます」
    (corpus call 02): QA matches phrases by reading too; NG words stay exact."""
    inp = CallInput(segments=[
        seg("agent", 0.3, 2.0, "オーテンは、ありがとうございます。"),
        seg("agent", 3.1, 5.0, "山田小事の鈴木でございます。"),
        seg("agent", 5.9, 10.4, "金術工場のため、この通話を録音させていただきます。"),
        seg("agent", 11.0, 13.0, "出来ませ。")], duration_s=14)
    res = {k: v[1] for k, v in analysis.run_all(inp, CFG).items()}
    assert crit(res, "greeting")["passed"]
    assert res["consent"]["announced"] and res["consent"]["purpose_stated"]
    assert [k for k in res["keywords"] if k["list"] == "ng"] == []  # 「出来ませ」 ≠ できません
    far = CallInput(segments=[seg("agent", 0, 3, "今日はいい天気ですね、散歩に行きましょう。")],
                    duration_s=3)
    res = {k: v[1] for k, v in analysis.run_all(far, CFG).items()}
    assert not crit(res, "greeting")["passed"] and not res["consent"]["announced"]


def test_competitor_misspelt_is_tagged_by_reading_homophone_is_not() -> None:
    v = voc.analyze(CallInput(segments=[seg("customer", 0, 3, "多社に乗り換えるか迷っています。"),
                                        seg("customer", 3, 6, "他者の意見も聞きたいです。")],
                              duration_s=6), CFG, {})
    comp = [t for t in v["tags"] if t["tag"] == "competitor"]
    assert [(t["label"], t["matched"], t["segment"]) for t in comp] == [("他社", "reading", 0)]
    qa_ev = crit({k: x[1] for k, x in analysis.run_all(CallInput(segments=[
        seg("agent", 0.3, 2.0, "オーテンは、ありがとうございます。")], duration_s=3),
        CFG).items()}, "greeting")["evidence"]
    assert [e["matched"] for e in qa_ev] == ["reading"]
