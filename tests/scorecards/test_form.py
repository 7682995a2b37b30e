"""The editor's form fields round-trip a card; blank and removed rows are left out."""

from __future__ import annotations

from rokuon.engine.analysis.config import load_config
from rokuon.scorecards import form, validate


def test_a_card_round_trips_through_the_form() -> None:
    cfg = load_config(())
    card = cfg["scorecards"]["default_ja"]
    fields = {"title": card["title"], "pass_score": str(card["pass_score"])}
    for n, row in enumerate(form.to_rows(card)):
        fields.update({f"c{n}_{k}": v for k, v in row.items()})
    back = validate.card(form.from_form(fields), keyword_lists=set(cfg["keywords"]))
    again = validate.card(card, keyword_lists=set(cfg["keywords"]))
    assert back == again


def test_blank_and_removed_rows_are_left_out() -> None:
    fields = {"title": "t", "pass_score": "50",
              "c0_id": "a", "c0_label": "A", "c0_type": "phrase_present",
              "c0_phrases": "はい\r\n\r\nいいえ", "c0_weight": "5",
              "c1_id": "b", "c1_label": "B", "c1_type": "consent_asked", "c1_weight": "5",
              "c1_remove": "1", "c2_speaker": "agent"}
    got = form.from_form(fields)
    assert [c["id"] for c in got["criteria"]] == ["a"]
    assert got["criteria"][0]["phrases"] == ["はい", "いいえ"]
