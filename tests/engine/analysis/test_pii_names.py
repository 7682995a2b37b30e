"""Names by context and by reading (家内の花子が, 島の花子 for 妻の花子, 黙村さん) and the
name-like spans the detector is unsure of, which disclosure packages mask too."""

from __future__ import annotations

from typing import Any

import pytest

from rokuon.engine.analysis import pii
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.pii.name_context import name_candidates
from rokuon.engine.types import Segment


@pytest.fixture(scope="module")
def cfg() -> dict[str, Any]:
    return load_config()


@pytest.fixture
def rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii.ner, "_ner_state", {"error": "OSError: no model"})


def said(found: list[dict[str, Any]], segs: list[Segment]) -> list[tuple[str, str]]:
    return [(f["type"], "|".join(segs[i].text[a:b] for i, a, b in f["chars"])) for f in found]


def customer(*texts: str) -> list[Segment]:
    return [Segment("customer", 5.0 * i, 5.0 * i + 4.0, t) for i, t in enumerate(texts)]


@pytest.mark.parametrize("text,name", [
    ("家内の花子が先日お電話しました。", "花子"),
    ("島の花子が先日お電話しました。", "花子"),      # 妻 misheard as 島 (シマ / ツマ)
    ("島のはなこが先日お電話しました。", "はなこ"),  # … and the name in hiragana
    ("家内のハナコが申し込みました。", "ハナコ"),
    ("息子の太郎が使っています。", "太郎"),
    ("主人の一郎が契約者です。", "一郎"),
])
def test_relatives_name_by_context_and_reading(cfg: dict[str, Any], rules_only: None,
                                                text: str, name: str) -> None:
    segs = customer(text, f"{name}にも伝えておきます。")
    found = said(pii.detect(segs, cfg), segs)
    assert ("person_name", name) in found
    assert found.count(("person_name", name)) == 2  # the later mention too


def test_name_before_an_honorific_whatever_the_spelling(cfg: dict[str, Any],
                                                         rules_only: None) -> None:
    segs = customer("担当の黙村さんから聞きました。", "黙村さんにもよろしく。",
                    "きむらさんはお休みですか。")
    found = said(pii.detect(segs, cfg), segs)
    assert found.count(("staff_name", "黙村")) == 2
    assert ("person_name", "きむら") in found or ("staff_name", "きむら") in found


def test_no_names_where_there_are_none(cfg: dict[str, Any], rules_only: None) -> None:
    segs = customer("今の状態が悪いです。", "お客さんが来ました。皆様よろしく。",
                    "母の具合が悪くて。")
    assert not [f for f in pii.detect(segs, cfg) if f["type"].endswith("_name")]


def test_uncertain_spans_are_candidates_for_masking(cfg: dict[str, Any],
                                                    rules_only: None) -> None:
    segs = customer("娘のさくらが申し込みました。", "さくらにも言っておきます。",
                    "お客さんが来ました。")
    found = pii.detect(segs, cfg)
    assert not [f for f in found if f["type"] == "person_name"]  # さくら: also a word
    cands = name_candidates(segs, cfg, known=found)
    assert said(cands, segs) == [("person_name", "さくら")] * 2
    assert all(c["uncertain"] and c["source"] == "context" for c in cands)
    assert all(segs[c["segment"]].start <= c["start"] < c["end"] <= segs[c["segment"]].end
               for c in cands)


def test_candidates_repeat_known_names_and_skip_the_known_spans(cfg: dict[str, Any],
                                                                rules_only: None) -> None:
    segs = customer("家内の花子が申し込みました。", "それで花子とも話しました。")
    found = pii.detect(segs, cfg)
    assert said(found, segs).count(("person_name", "花子")) == 2
    assert name_candidates(segs, cfg, known=found) == []
    # without the detector's findings, the candidates alone still cover both
    assert said(name_candidates(segs, cfg), segs) == [("person_name", "花子")] * 2


def test_a_name_the_recogniser_broke_up_is_masked_to_its_particle(cfg: dict[str, Any],
                                                                   rules_only: None) -> None:
    # 健太 heard as 剣た (a noun and an auxiliary): after 「息子の」 the whole word up to
    # が is the name (the recogniser wrote this on one CPU type for corpus call 40)
    segs = customer("当日は息子の剣たが立ち合います。")
    found = pii.detect(segs, cfg)
    spans = said(found, segs) + said(name_candidates(segs, cfg, known=found), segs)
    assert ("person_name", "剣た") in spans, spans
