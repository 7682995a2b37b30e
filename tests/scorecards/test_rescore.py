"""Scorecard versions and re-score runs on real analysed calls: a saved edit scores new
calls, a run re-scores the past calls in the requester's scope and records the deltas,
overrides stay on top, an interrupted run resumes without scoring a call twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from rokuon.access.permissions import Forbidden
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.coaching import overrides
from rokuon.scorecards import rescore, versions
from rokuon.scorecards.validate import ScorecardError
from rokuon.store.models import (
    AnalysisResult,
    AuditEntry,
    Call,
    CallKpi,
    RescoreDelta,
    RescoreRun,
    utcnow,
)
from tests.helpers import tone_wav, write_transcript

ADMIN = Principal(name="admin@example.com", role="admin")
SV = Principal(name="sv@example.com", role="supervisor", team="A")
SATO = Principal(name="sato@example.com", role="operator", agent_name="sato")
LINES = [("agent", 0.0, 3.0, "お電話ありがとうございます。山田商事の佐藤でございます。"),
         ("customer", 3.2, 6.0, "請求書の金額が違うんですけど。"),
         ("agent", 6.2, 9.0, "ご契約者様のお名前を確認いたします。"),
         ("customer", 9.2, 11.0, "山田です。"),
         ("agent", 11.2, 13.0, "ありがとうございました。")]


def _call(rt, seed: int, team: str = "A", lines=LINES) -> str:  # type: ignore[no-untyped-def]
    cid = ingest_stream(rt, [tone_wav(14.0, seed=seed)], name=f"r{seed}.wav",
                        actor=Principal.cli(),
                        meta=parse_metadata(f'{{"agent": "sato", "team": "{team}"}}')).call_id
    write_transcript(rt, cid, lines)
    return cid


def _edited(rt, s, **change):  # type: ignore[no-untyped-def]
    card = versions.get(s, rt.analysis_config, "default_ja")
    # greeting no longer counts
    crit = [c for c in card["criteria"] if c["id"] not in ("greeting", "restate")]
    crit.append({"id": "restate", "label": "復唱", "type": "phrase_present",
                 "speaker": "agent", "phrases": ["復唱いたします"], "weight": 40})
    return {"title": card["title"], "pass_score": 60, "criteria": crit, **change}


def _qa(rt, cid: str) -> dict:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return overrides.automatic_qa(s, cid) or {}


def test_save_is_a_new_version_and_scores_new_calls(rt) -> None:  # type: ignore[no-untyped-def]
    before = _call(rt, 501)
    assert _qa(rt, before)["scorecard_version"] == 0  # the configuration's card
    with rt.db.session() as s:
        saved = versions.save(s, SV, rt.analysis_config, "default_ja", _edited(rt, s),
                              base_version=0, note="復唱を重視")
        assert saved["version"] == 1
        with pytest.raises(ScorecardError, match="version 1 was saved by sv@example.com"):
            versions.save(s, ADMIN, rt.analysis_config, "default_ja", _edited(rt, s),
                          base_version=0)  # a stale edit does not overwrite
        with pytest.raises(Forbidden):
            versions.save(s, SATO, rt.analysis_config, "default_ja", _edited(rt, s))
        hist = versions.history(s, rt.analysis_config, "default_ja")
        assert [h["version"] for h in hist] == [1, 0] and hist[0]["note"] == "復唱を重視"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "scorecard.save")
                          ).one()
        assert audit.detail["added"] == ["restate"] and audit.detail["removed"] == ["greeting"]
    after = _call(rt, 502)
    qa_new = _qa(rt, after)
    assert qa_new["scorecard_version"] == 1
    assert "greeting" not in [c["id"] for c in qa_new["criteria"]]
    assert qa_new["pass_score"] == 60
    assert _qa(rt, before)["scorecard_version"] == 0  # untouched until re-scored


def test_a_bad_card_saves_nothing(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        with pytest.raises(ScorecardError, match="at least one criterion"):
            versions.save(s, ADMIN, rt.analysis_config, "default_ja",
                          {"title": "空", "pass_score": 70, "criteria": []})
        with pytest.raises(versions.UnknownScorecard):
            versions.save(s, ADMIN, rt.analysis_config, "nope", _edited(rt, s))
    with rt.db.session() as s:
        assert versions.current(s, rt.analysis_config)["default_ja"]["version"] == 0


def test_rescore_covers_the_requesters_scope_and_records_deltas(rt) -> None:  # type: ignore[no-untyped-def]
    a1, a2, b1 = _call(rt, 511), _call(rt, 512), _call(rt, 513, team="B")
    old = {c: _qa(rt, c)["score"] for c in (a1, a2, b1)}
    with rt.db.session() as s:  # the coach had overridden a criterion of a2
        overrides.set_override(s, SV, a2, "closing", passed=False, reason="名乗りがない")
    with rt.db.session() as s:
        over_a2 = overrides.effective_qa(s, a2)["score"]
        versions.save(s, ADMIN, rt.analysis_config, "default_ja", _edited(rt, s))
        run = rescore.start(s, SV, rt.analysis_config, "default_ja")
        assert run.version == 1
        with pytest.raises(ScorecardError, match="before since"):
            rescore.start(s, SV, rt.analysis_config, "default_ja", since="2026-12-07",
                          until="2026-01-01")
        with pytest.raises(ScorecardError, match="not a date"):
            rescore.start(s, SV, rt.analysis_config, "default_ja", since="yesterday")
    assert rescore.run_pending(rt) == 1
    with rt.db.session() as s:
        got = s.get(RescoreRun, run.id)
        assert got.status == "done" and got.total == 2 and got.done == 2
        deltas = {d.call_id: d for d in s.scalars(select(RescoreDelta))}
        assert set(deltas) == {a1, a2}  # team B is not the supervisor's to re-score
        assert deltas[a1].old_score == old[a1] and deltas[a2].old_score == over_a2
        for cid in (a1, a2):
            call, kpi = s.get(Call, cid), s.get(CallKpi, cid)
            eff = overrides.effective_qa(s, cid)
            assert deltas[cid].new_score == eff["score"] == call.qa_score == kpi.qa_score
        assert eff["criteria"][[c["id"] for c in eff["criteria"]].index("closing")][
            "override"]["reason"] == "名乗りがない"  # the override still holds
        summary = rescore.summary(s, ADMIN, run.id)
        assert summary["scored"] == 2 and summary["run"]["status"] == "done"
        assert summary["mean_delta"] == round(sum(
            deltas[c].new_score - deltas[c].old_score for c in (a1, a2)) / 2, 2)
        # the restate criterion (40 of the weight) was not met: every score fell
        assert all(d["delta"] < 0 for d in summary["deltas"])
        other = rescore.summary(s, Principal(name="sv-b@x", role="supervisor", team="B"),
                                run.id)
        assert other["deltas"] == []  # a team B supervisor sees none of team A's calls
    assert _qa(rt, b1)["score"] == old[b1]


def test_an_interrupted_run_resumes_without_scoring_twice(rt) -> None:  # type: ignore[no-untyped-def]
    ids = [_call(rt, 520 + i) for i in range(3)]
    with rt.db.session() as s:
        versions.save(s, ADMIN, rt.analysis_config, "default_ja", _edited(rt, s))
        run_id = rescore.start(s, ADMIN, rt.analysis_config, "default_ja").id
    with rt.db.session() as s:  # a worker claimed it, did one call and died
        assert rescore.claim(s, "dead-worker") == run_id
        run = s.get(RescoreRun, run_id)
        d = rescore.rescore_call(s, ids[0], "default_ja",
                                 versions.get(s, rt.analysis_config, "default_ja"),
                                 versions.effective_config(s, rt.analysis_config))
        d.run_id = run_id
        s.add(d)
        run.done = 1
    with rt.db.session() as s:
        assert rescore.claim(s, "another") is None  # the lease still holds
        s.get(RescoreRun, run_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    assert rescore.run_pending(rt, "another") == 1
    with rt.db.session() as s:
        run = s.get(RescoreRun, run_id)
        assert run.status == "done" and run.done == 3
        assert len(s.scalars(select(RescoreDelta).where(RescoreDelta.run_id == run_id)).all()) == 3
        rows = s.scalars(select(AnalysisResult).where(AnalysisResult.call_id == ids[1],
                                                      AnalysisResult.analyzer == "qa")).all()
        assert len(rows) == 1 and rows[0].payload["scorecard_version"] == 1
