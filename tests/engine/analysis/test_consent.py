"""Recording announcement and consent answers."""

import pytest

from rokuon.engine.analysis import consent
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import call_input, names, seg, truth

CFG = load_config()


@pytest.mark.parametrize("name", names())
def test_corpus_labels(name: str) -> None:
    lab = truth(name)["labels"]
    r = consent.analyze(call_input(name), CFG, {})
    assert r["announced"] == lab["announced"]
    if lab["announced"]:
        assert r["announced_at"] == pytest.approx(lab["announced_at"], abs=0.01)
    want = lab["consent"] if lab["consent"] in ("yes", "no", "refused") else None
    assert (r["answer"] if r["answer"] in ("yes", "no", "refused") else None) == want
    assert ("missing_announcement" in r["flags"]) == (not lab["announced"])


def test_late_announcement_without_purpose_and_refusal_later() -> None:
    inp = CallInput(segments=[
        seg("agent", 0, 3, "お電話ありがとうございます。"),
        seg("agent", 40, 44, "この通話は録音しております。"),
        seg("customer", 50, 52, "録音はしないでください。")], duration_s=60)
    r = consent.analyze(inp, CFG, {})
    assert r["announced_at"] == 40 and r["answer"] == "not_asked"
    assert {"late_announcement", "purpose_not_stated", "recording_refused"} <= set(r["flags"])
    assert r["refused"] is True and r["explicit_consent"] is None


def test_english_consent() -> None:
    inp = CallInput(segments=[
        seg("agent", 0, 5, "This call is recorded for quality and training. Is that okay?"),
        seg("customer", 6, 7, "Sure.")], duration_s=8, language="en")
    r = consent.analyze(inp, CFG, {})
    assert r["announced"] and r["purpose_stated"] and r["answer"] == "yes"


TEXT_ONLY = {**CFG, "matching": {**CFG["matching"], "reading": False}}


def test_misheard_announcement_and_refusal_match_by_reading() -> None:
    """録音 heard as ヨクオン in the announcement, as ロコン in the refusal (issue 11)."""
    inp = CallInput(segments=[
        seg("agent", 0, 3, "品質向上のため、この通話をヨクオンさせていただきます。"),
        seg("customer", 4, 6, "ロコンはやめてください。")], duration_s=8)
    r = consent.analyze(inp, CFG, {})
    assert r["announced"] and r["refused"] and "recording_refused" in r["flags"]
    how = {e["kind"]: e.get("matched") for e in r["evidence"]}
    assert how["announcement"] == "reading" and how["consent_refused"] == "reading"
    ann = next(e for e in r["evidence"] if e["kind"] == "announcement")
    assert ann["phrase"] == "録音させていただきます"
    assert inp.segments[0].text[slice(*ann["chars"])] == "ヨクオンさせていただきます"
    off = consent.analyze(inp, TEXT_ONLY, {})
    assert not off["announced"] and not off["refused"]


def test_text_matches_say_so_and_sound_alikes_do_not_refuse() -> None:
    inp = CallInput(segments=[
        seg("agent", 0, 3, "この通話は録音しております。よろしいでしょうか。"),
        seg("customer", 4, 6, "録音を聞いてください。"),  # 聞いて is not 切って
        seg("customer", 7, 8, "はい、どうぞ。")], duration_s=9)
    r = consent.analyze(inp, CFG, {})
    assert r["announced"] and not r["refused"] and r["answer"] == "yes"
    assert {e.get("matched") for e in r["evidence"]} == {"text"}
    saved = CallInput(segments=[seg("agent", 0, 3, "お客様の情報を保存させていただきます。")],
                      duration_s=3)
    assert not consent.analyze(saved, CFG, {})["announced"]
