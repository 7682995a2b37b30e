"""KPIs: exact aggregates over known analysis, per group, the previous period beside,
local days in the installation's time zone, scoping per role, bad periods."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app
from rokuon.reports import kpis
from rokuon.reports.period import MAX_DAYS, ReportError, parse_period
from rokuon.store.models import AuditEntry
from tests.helpers import tone_wav, write_transcript
from tests.reports.conftest import SINCE, UNTIL

TZ = "Asia/Tokyo"
ADMIN = Principal(name="admin@example.com", role="admin")


def _report(rt, who: Principal, group: str | None = None):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return kpis.report(s, who, parse_period(SINCE, UNTIL, TZ), group)


def test_total_is_exact(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    rep = _report(rt, ADMIN)
    assert rep.contract() == {"total": {
        "calls": 4, "aht_s": 165.0,  # (100 + 200 + 300 + 60) / 4, the unanalysed call too
        "talk_ratio": 0.467,  # (0.6 + 0.3 + 0.5) / 3 analysed calls
        "silence_s": 20.0, "overlap_s": 2.0, "interruptions": 1.0,
        "filler_per_min": 1.71,  # 4 fillers / (140 s of agent talk / 60)
        "qa_avg": 76.7, "qa_pass_rate": 0.667, "complaints": 1, "negative_share": 0.333,
        "no_announcement": 1}, "groups": []}
    assert rep.total["hold_s"] == round(20 / 3, 2)
    assert rep.previous_total["calls"] == 2 and rep.previous_total["qa_avg"] == 60.0


def test_groups_by_agent_team_queue(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    rep = _report(rt, ADMIN, "agent")
    by = {g["key"]: g for g in rep.contract()["groups"]}
    assert list(by) == ["kato", "sato"]
    assert by["sato"] == {"key": "sato", "calls": 2, "aht_s": 150.0, "talk_ratio": 0.45,
                          "silence_s": 15.0, "overlap_s": 2.0, "interruptions": 1.0,
                          "filler_per_min": 2.67, "qa_avg": 70.0, "qa_pass_rate": 0.5,
                          "complaints": 1, "negative_share": 0.5, "no_announcement": 1}
    assert by["kato"]["calls"] == 2 and by["kato"]["aht_s"] == 180.0
    assert by["kato"]["qa_avg"] == 90.0 and by["kato"]["filler_per_min"] == 0.0
    assert rep.previous_of("sato")["calls"] == 1 and rep.previous_of("kato")["qa_avg"] == 50.0
    assert [g["key"] for g in _report(rt, ADMIN, "team").groups] == ["A", "B"]
    queues = {g["key"]: g["calls"] for g in _report(rt, ADMIN, "queue").groups}
    assert queues == {"q1": 2, "q2": 2}


def test_days_are_local_and_all_listed(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    rep = _report(rt, ADMIN, "day")
    calls = {g["key"]: g["calls"] for g in rep.groups}
    assert calls == {"2025-03-10": 1, "2025-03-11": 0, "2025-03-12": 1, "2025-03-13": 1,
                     "2025-03-14": 0, "2025-03-15": 0, "2025-03-16": 1}
    empty = next(g for g in rep.groups if g["key"] == "2025-03-11")
    assert empty["aht_s"] is None and empty["qa_avg"] is None
    # the previous period's days sit beside the days a week later
    assert rep.previous_of("2025-03-12")["calls"] == 1  # 03-05
    assert rep.previous_of("2025-03-16")["calls"] == 1  # 03-09 23:59


def test_days_in_a_zone_with_daylight_saving(seeded) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    with rt.db.session() as s:  # 23:30 JST on the 16th is 15:30 on the 16th in London
        rep = kpis.compute(s, ADMIN, parse_period("2025-03-10", "2025-04-06",
                                                  "Europe/London"), "day")
    calls = {g["key"]: g["calls"] for g in rep.groups if g["calls"]}
    assert calls == {"2025-03-10": 1, "2025-03-12": 1, "2025-03-13": 1, "2025-03-16": 2}


@pytest.mark.parametrize(("who", "calls", "keys"), [
    (Principal(name="sato@example.com", role="operator", agent_name="sato"), 2, ["sato"]),
    (Principal(name="sv@example.com", role="supervisor", team="B"), 2, ["kato"]),
    (Principal(name="sv0@example.com", role="supervisor"), 0, []),  # no team: nothing
    (Principal(name="au@example.com", role="auditor"), 0, []),
])
def test_each_role_sees_its_scope(seeded, who, calls, keys) -> None:  # type: ignore[no-untyped-def]
    rt, _ = seeded
    rep = _report(rt, who, "agent")
    assert rep.total["calls"] == calls and [g["key"] for g in rep.groups] == keys
    assert rep.previous_total["calls"] == (calls and 1)


def test_stopped_and_failed_calls_are_left_out(seeded) -> None:  # type: ignore[no-untyped-def]
    from rokuon.store.models import Call, utcnow

    rt, ids = seeded
    with rt.db.session() as s:
        s.get(Call, ids["c1"]).use_stopped_at = utcnow()  # type: ignore[union-attr]
        s.get(Call, ids["c3"]).status = "failed"  # type: ignore[union-attr]
    assert _report(rt, ADMIN).total["calls"] == 2


def test_the_report_is_audited(seeded) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    rt, _ = seeded
    _report(rt, ADMIN, "team")
    with rt.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "report.kpis")).one()
        assert e.detail == {"group": "team", "since": SINCE, "until": UNTIL}


@pytest.mark.parametrize(("since", "until", "says"), [
    ("2025-03-16", "2025-03-10", "until (2025-03-10) is before since (2025-03-16)"),
    ("2025-13-01", None, "since: '2025-13-01' is not a date"),
    ("2015-01-01", "2025-01-01", "longer than five years"),
    ("0001-01-01", "0001-01-02", "outside 1970"),
])
def test_bad_periods_say_what_is_wrong(since, until, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReportError, match=re.escape(says)):
        parse_period(since, until, TZ)


def test_default_and_open_periods() -> None:
    today = date(2025, 3, 16)
    p = parse_period(None, None, TZ, today=today)
    assert (p.since, p.until, p.days) == (date(2025, 3, 10), today, 7)
    assert parse_period("2025-03-01", None, TZ, today=today).until == date(2025, 3, 7)
    assert parse_period(None, "2025-03-07", TZ, today=today).since == date(2025, 3, 1)
    prev = parse_period(SINCE, UNTIL, TZ).previous()
    assert (prev.since, prev.until) == (date(2025, 3, 3), date(2025, 3, 9))
    assert parse_period("2020-01-01", "2024-12-31", TZ).days <= MAX_DAYS


def test_unknown_group_is_refused() -> None:
    with pytest.raises(ReportError, match="group must be one of agent, team, queue, day"):
        kpis.check_group("weekday")


def test_cli_kpis_json_and_errors(seeded) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    r = runner.invoke(app, ["report", "kpis", "--group", "team", "--since", SINCE,
                            "--until", UNTIL, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"total", "groups"} and doc["total"]["calls"] == 4
    assert list(doc["total"]) == list(kpis.KPI_KEYS)
    assert [(g["key"], g["calls"]) for g in doc["groups"]] == [("A", 2), ("B", 2)]
    r = runner.invoke(app, ["report", "kpis", "--since", UNTIL, "--until", SINCE, "--json"])
    assert r.exit_code != 0 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "is before since" in r.stderr
    r = runner.invoke(app, ["report", "kpis", "--group", "month", "--json"])
    assert r.exit_code != 0 and "group must be one of" in r.stderr
    r = runner.invoke(app, ["report", "kpis", "--group", "agent", "--since", SINCE,
                            "--until", UNTIL, "--csv"])
    lines = r.stdout.splitlines()
    assert lines[0].startswith("group,key,calls,aht_s") and lines[1].startswith("total,,4,")
    assert len(lines) == 4 and lines[3].startswith("agent,sato,2,150.0,0.45")


def test_the_analyze_step_writes_the_figures(rt) -> None:  # type: ignore[no-untyped-def]
    """Through the real pipeline: ingest, transcript, analyze (the hook), index."""
    from rokuon.calls.ingest import ingest_stream
    from rokuon.calls.metadata import parse_metadata
    from rokuon.store.models import CallKeywordHit, CallKpi

    meta = parse_metadata('{"agent": "sato", "team": "A", "started_at": '
                          '"2025-03-11T10:00:00"}')
    cid = ingest_stream(rt, [tone_wav(3.0, seed=5)], name="k.wav", actor=Principal.cli(),
                        meta=meta).call_id
    write_transcript(rt, cid, [
        ("agent", 0.0, 1.0, "お電話ありがとうございます。この通話は録音させていただきます。"),
        ("customer", 1.2, 2.5, "解約したいんですけど、他社の方が安い"),
        ("agent", 2.6, 2.9, "できません")])
    with rt.db.session() as s:
        row = s.get(CallKpi, cid)
        assert row is not None and row.announced is True and row.churn is True
        assert row.qa_score is not None and row.agent_talk_s is not None
        words = {(h.list, h.word): h.hits for h in s.query(CallKeywordHit)
                 .filter(CallKeywordHit.call_id == cid)}
    assert words[("ng", "できません")] == 1 and words[("churn", "解約したい")] == 1
    assert words[("competitor", "他社")] == 1
    rep = _report(rt, ADMIN)
    assert rep.total["calls"] == 1 and rep.total["no_announcement"] == 0
