"""Keyword ranking: exact counts and calls per list and word, the change against the
previous period, scoping per role, the churn and competitor lists; and the figures
of calls analysed before the report tables existed (migration 0015 fills them)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app
from rokuon.reports import keywords
from rokuon.reports.figures import figures, keyword_hits
from rokuon.reports.period import ReportError, parse_period
from rokuon.store.models import CallKeywordHit, CallKpi
from tests.reports.conftest import SINCE, UNTIL

TZ = "Asia/Tokyo"
ADMIN = Principal(name="admin@example.com", role="admin")


def _rows(rt, who: Principal = ADMIN, **kw):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return keywords.report(s, who, parse_period(SINCE, UNTIL, TZ), **kw).contract()[
            "keywords"]


def test_counts_calls_and_change(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    assert _rows(rt) == [
        # c1 twice + c2 once; the previous period had it once (c5)
        {"list": "ng", "word": "できません", "count": 3, "calls": 2, "change": 2},
        {"list": "good", "word": "かしこまりました", "count": 2, "calls": 2, "change": 2},
        {"list": "churn", "word": "解約したい", "count": 1, "calls": 1, "change": 1},
        {"list": "competitor", "word": "他社", "count": 1, "calls": 1, "change": 1},
        # heard only in the previous period: listed with its fall
        {"list": "ng", "word": "無理です", "count": 0, "calls": 0, "change": -1},
    ]


def test_only_some_lists(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    assert {r["list"] for r in _rows(rt, lists=("churn", "competitor"))} == \
        {"churn", "competitor"}


@pytest.mark.parametrize(("who", "words"), [
    (Principal(name="sato@example.com", role="operator", agent_name="sato"),
     {("ng", "できません"): 3, ("good", "かしこまりました"): 1, ("churn", "解約したい"): 1,
      ("competitor", "他社"): 1, ("ng", "無理です"): 0}),
    (Principal(name="sv@example.com", role="supervisor", team="B"),
     {("good", "かしこまりました"): 1}),
    (Principal(name="sv0@example.com", role="supervisor"), {}),  # no team: nothing
])
def test_each_role_sees_its_scope(seeded, who, words) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    assert {(r["list"], r["word"]): r["count"] for r in _rows(rt, who)} == words


def test_reversed_period_is_refused() -> None:
    with pytest.raises(ReportError, match="is before since"):
        parse_period(UNTIL, SINCE, TZ)


def test_cli_keywords(seeded) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    r = runner.invoke(app, ["report", "keywords", "--since", SINCE, "--until", UNTIL,
                            "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["keywords"] and doc["keywords"][0] == {
        "list": "ng", "word": "できません", "count": 3, "calls": 2, "change": 2}
    r = runner.invoke(app, ["report", "keywords", "--since", "2025-02-30", "--json"])
    assert r.exit_code != 0 and r.stderr.count("\n") == 1
    assert "since: '2025-02-30' is not a date" in r.stderr


def test_figures_read_what_the_analyzers_write() -> None:
    broken = {"metrics": {"error": "ValueError: boom"}, "qa": {"score": 55.5},
              "sentiment": {"customer": {"label": "unknown"}},
              "keywords": [{"list": "ng", "word": "だから"}, {"list": "ng", "word": "だから"},
                           {"nonsense": True}],
              "churn": {"evidence": [{"cue": "やめたい", "kind": "churn"}]}}
    f = figures(broken)
    assert f["agent_talk_s"] is None and f["agent_share"] is None and f["qa_score"] == 55.5
    assert f["negative"] is None and f["announced"] is None and f["qa_passed"] is None
    assert keyword_hits(broken) == {("ng", "だから"): 2, ("churn", "やめたい"): 1}
    assert figures({})["fillers"] is None


def test_migration_fills_the_figures_of_calls_analysed_before(seeded) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from rokuon.store.migrate import alembic_config

    rt, ids = seeded
    with rt.db.session() as s:
        before = {r.call_id: (r.qa_score, r.fillers, r.negative)
                  for r in s.scalars(select(CallKpi))}
        hits_before = s.query(CallKeywordHit).count()
    assert len(before) == 7  # c4 was not analysed
    cfg = alembic_config(str(rt.db.engine.url.render_as_string(hide_password=False)))
    with rt.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014_live_calls")  # the tables go
    with rt.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")  # and come back, filled from the analysis rows
    with rt.db.session() as s:
        after = {r.call_id: (r.qa_score, r.fillers, r.negative)
                 for r in s.scalars(select(CallKpi))}
        assert s.query(CallKeywordHit).count() == hits_before
    assert after == before
    assert _rows(rt)[0] == {"list": "ng", "word": "できません", "count": 3, "calls": 2,
                            "change": 2}
