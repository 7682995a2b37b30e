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
