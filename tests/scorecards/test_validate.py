"""What a scorecard may say: every problem of a bad card is named, nothing else."""

from __future__ import annotations

import pytest

from rokuon.engine.analysis.config import load_config
from rokuon.scorecards import validate
from rokuon.scorecards.validate import ScorecardError

LISTS = {"ng", "good"}


def _card(*criteria: dict, pass_score: object = 70, title: object = "応対品質") -> dict:
    return {"title": title, "pass_score": pass_score, "criteria": list(criteria)}


GREETING = {"id": "greeting", "label": "挨拶", "type": "phrase_present", "speaker": "agent",
            "within_s": 15, "phrases": ["お電話ありがとうございます"], "weight": 10}


def test_the_shipped_cards_are_valid() -> None:
    cfg = load_config(())
    for name, card in cfg["scorecards"].items():
        clean = validate.card(card, keyword_lists=set(cfg["keywords"]))
        assert [c["id"] for c in clean["criteria"]] == [c["id"] for c in card["criteria"]], name


def test_a_clean_card_is_normalised() -> None:
    raw = {**GREETING, "phrases": "お電話ありがとうございます\n\n お世話になっております \n"
                                  "お電話ありがとうございます", "weight": "10"}
    out = validate.card(_card(raw), keyword_lists=LISTS)
    c = out["criteria"][0]
    assert c["phrases"] == ["お電話ありがとうございます", "お世話になっております"]
    assert c["weight"] == 10.0 and c["within_s"] == 15.0 and out["pass_score"] == 70.0


@pytest.mark.parametrize(("raw", "problem"), [
    (_card(), "criteria: at least one criterion"),
    (_card(GREETING, pass_score=120), "pass_score: must be between 0 and 100"),
    (_card(GREETING, title=""), "title: required"),
    (_card({**GREETING, "type": "magic"}), "unknown type 'magic'"),
    (_card({**GREETING, "phrases": []}), "at least one phrase"),
    (_card({**GREETING, "weight": 0}), "weight: must be more than 0"),
    (_card({**GREETING, "weight": "ten"}), "weight: not a number"),
    (_card({**GREETING, "id": "Greeting!"}), "id must be"),
    (_card(GREETING, GREETING), "greeting: the id is used more than once"),
    (_card({**GREETING, "last_s": 20}), "not both"),
    (_card({"id": "ng", "label": "NG", "type": "keyword_absent", "list": "nope", "weight": 5}),
     "unknown keyword list 'nope'"),
    (_card({"id": "m", "label": "m", "type": "metric_range", "weight": 5,
            "metric": "metrics.parties.agent.talk_share", "min": 0.8, "max": 0.2}),
     "min 0.8 is above max 0.2"),
    (_card({"id": "m", "label": "m", "type": "metric_max", "weight": 5,
            "metric": "__class__.__init__", "max": 1}), "metric: unknown"),
    (_card({"id": "m", "label": "m", "type": "metric_min", "weight": 5,
            "metric": "metrics.silence_s"}), "min: required for metric_min"),
    (_card(GREETING, {**GREETING, "id": "no_thanks", "type": "phrase_absent",
                      "within_s": None}), "greeting and no_thanks contradict"),
    (_card({"id": "a", "label": "a", "type": "metric_max", "weight": 5,
            "metric": "metrics.parties.agent.talk_share", "max": 0.3},
           {"id": "b", "label": "b", "type": "metric_min", "weight": 5,
            "metric": "metrics.parties.agent.talk_share", "min": 0.5}),
     "a and b contradict: no value of metrics.parties.agent.talk_share passes both"),
    (_card({**GREETING, "label": "x" * 201}), "label: at most 200 characters"),
    (_card({**GREETING, "phrases": [f"句{i}" for i in range(201)]}), "at most 200 phrases"),
    ("not a card", "must be an object"),
])
def test_bad_cards_are_refused_naming_the_problem(raw: object, problem: str) -> None:
    with pytest.raises(ScorecardError) as err:
        validate.card(raw, keyword_lists=LISTS)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ScorecardError) as err:
        validate.card(_card({**GREETING, "weight": -1, "phrases": []}, pass_score="x"),
                      keyword_lists=LISTS)
    assert len(err.value.problems) == 3


def test_a_phrase_absent_in_another_window_is_not_a_contradiction() -> None:
    late = {**GREETING, "id": "no_greeting_late", "type": "phrase_absent",
            "within_s": None, "last_s": 10}
    assert validate.card(_card(GREETING, late), keyword_lists=LISTS)


def test_names() -> None:
    assert validate.name("default_ja") == "default_ja"
    for bad in ("", "Default", "a" * 61, "../x", None):
        with pytest.raises(ScorecardError):
            validate.name(bad)
