"""Complaint / abusive customer and churn intent, with evidence."""

import pytest

from rokuon.engine.analysis import churn, complaint
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import call_input, names, seg, truth

CFG = load_config()


@pytest.mark.parametrize("name", names())
def test_corpus_labels(name: str) -> None:
    lab = truth(name)["labels"]
    inp = call_input(name)
    c = complaint.analyze(inp, CFG, {})
    assert c["detected"] == lab["complaint"]
    assert (c["label"] == "abusive") == lab["abusive"]
    assert churn.analyze(inp, CFG, {})["detected"] == lab["churn"]


def test_evidence_names_cue_speaker_and_time() -> None:
    c = complaint.analyze(call_input("04_abusive_complaint"), CFG, {})
    cues = {e["cue"] for e in c["evidence"]}
    assert {"ふざけるな", "責任者を出せ", "誠意を見せろ", "訴える"} <= cues
    assert all(e["speaker"] == "customer" for e in c["evidence"])
    first = next(e for e in c["evidence"] if e["cue"] == "責任者を出せ")
    assert 16.3 <= first["start"] < first["end"] <= 18.92


def test_agent_words_do_not_count() -> None:
    inp = CallInput(segments=[seg("agent", 0, 3, "責任者を出せとおっしゃいましても")],
                    duration_s=3)
    assert complaint.analyze(inp, CFG, {})["detected"] is False


def test_sentiment_and_agitation_raise_the_score() -> None:
    inp = CallInput(segments=[seg("customer", 0, 3, "商品がまだ届かないんですが")], duration_s=3)
    calm = complaint.analyze(inp, CFG, {})
    hot = complaint.analyze(inp, CFG, {
        "sentiment": {"customer": {"score": -0.8}},
        "agitation": {"available": True, "customer": {"level": "angry"}}})
    assert hot["score"] > calm["score"] and hot["detected"]
    assert hot["components"]["customer_agitation"] == "angry"


def test_churn_negation_and_agent_mentions() -> None:
    neg = CallInput(segments=[seg("customer", 0, 3, "解約するつもりはありません。")],
                    duration_s=3)
    agent = CallInput(segments=[seg("agent", 0, 3, "解約のお手続きをご案内いたします。")],
                      duration_s=3)
    yes = CallInput(segments=[seg("customer", 0, 3, "他社に乗り換えたいので解約したいです。")],
                    duration_s=3)
    assert not churn.analyze(neg, CFG, {})["detected"]
    assert not churn.analyze(agent, CFG, {})["detected"]
    r = churn.analyze(yes, CFG, {})
    assert r["detected"] and {e["cue"] for e in r["evidence"]} >= {"解約したい"}


TEXT_ONLY = {**CFG, "matching": {**CFG["matching"], "reading": False}}


def test_misheard_churn_and_abuse_match_by_reading_negation_still_works() -> None:
    yes = CallInput(segments=[seg("customer", 0, 3, "契約を開約したいんです。")], duration_s=3)
    r = churn.analyze(yes, CFG, {})
    assert r["detected"] and r["evidence"][0]["matched"] == "reading"
    assert r["evidence"][0]["cue"] == "解約したい"
    assert not churn.analyze(yes, TEXT_ONLY, {})["detected"]
    for text in ("開約するつもりはありません。", "開約しないです。"):
        no = CallInput(segments=[seg("customer", 0, 3, text)], duration_s=3)
        assert not churn.analyze(no, CFG, {})["detected"], text
    agent = CallInput(segments=[seg("agent", 0, 3, "開約したいとのことですね。")], duration_s=3)
    assert not churn.analyze(agent, CFG, {})["detected"]
    abuse = CallInput(segments=[seg("customer", 0, 3, "責任車を出せ！")], duration_s=3)
    c = complaint.analyze(abuse, CFG, {})
    assert [(e["cue"], e["matched"]) for e in c["evidence"]] == [("責任者を出せ", "reading")]
    assert c["label"] == "abusive"
