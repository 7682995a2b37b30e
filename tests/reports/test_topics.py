"""VOC topics: labelled calls of five topics in two periods (cancellations rising),
stored through the app's storage layer. The topics follow the subjects, the change
against the period before is counted per topic, no customer name reaches a label, the
same calls always give the same topics, each role sees only its scope, bad counts are
refused, reads are audited; and the CLI, API and page over the same report."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app
from rokuon.reports import topics
from rokuon.reports.period import ReportError, parse_period
from rokuon.reports.synthetic import add_call, add_transcript
from rokuon.reports.synthetic_voc import NAMES, labelled_calls
from rokuon.store.models import AuditEntry
from tests.reports.conftest import SINCE, UNTIL, jst

TZ = "Asia/Tokyo"
ADMIN = Principal(name="admin@example.com", role="admin")


@pytest.fixture
def voc(rt):  # type: ignore[no-untyped-def]
    """(rt, truth: call id → (topic, period, agent)); 6 calls per topic now,
    cancellations 2 of 6 the week before; agents sato (even calls) and kato (odd). No
    second topic in passing, so the subjects are clearly apart: how well topics are
    found in harder talk is measured by scripts/evaluate_topics.py, not asserted."""
    rng = random.Random(11)
    truth: dict[str, tuple[str, int, str]] = {}
    with rt.db.session() as s:
        for cur, calls in ((1, labelled_calls(rng, 6, aside_share=0)),
                          (0, labelled_calls(rng, 6, aside_share=0))):
            kept = [c for c in calls if cur or c[0] != "cancellation"]
            if not cur:
                kept += [c for c in calls if c[0] == "cancellation"][:2]
            for i, (topic, utterances) in enumerate(kept):
                start = jst(f"{SINCE}T09:00") + timedelta(days=i % 7 - (0 if cur else 7),
                                                         minutes=i)
                agent = "sato" if i % 2 == 0 else "kato"
                cid = add_call(s, started_at=start, duration_s=90, agent=agent,
                               team="A" if i % 2 == 0 else "B")
                add_transcript(s, cid, utterances)
                truth[cid] = (topic, cur, agent)
    return rt, truth


def _report(rt, who: Principal = ADMIN, **kw) -> topics.TopicReport:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return topics.report(s, who, parse_period(SINCE, UNTIL, TZ), **kw)


def test_topics_follow_the_subjects_and_count_the_change(voc) -> None:  # type: ignore[no-untyped-def]
    rt, truth = voc
    with rt.db.session() as s:
        rep = topics.compute(s, ADMIN, parse_period(SINCE, UNTIL, TZ), topics=5,
                             with_members=True)
    assert rep.documents == len(truth)
    assert len(rep.rows) == 5
    majority = {}
    for r in rep.rows:
        # each topic gathers the calls of one subject
        subjects = Counter(truth[c][0] for c in r["members"])
        majority[r["topic_id"]], n = subjects.most_common(1)[0]
        assert n == len(r["members"]), (r["label"], subjects)
        # calls / previous are exactly the members of each period
        assert r["calls"] == sum(1 for c in r["members"] if truth[c][1] == 1)
        assert r["previous"] == len(r["members"]) - r["calls"]
        assert r["change"] == r["calls"] - r["previous"]
        assert set(r["examples"]) <= {c for c in r["members"] if truth[c][1] == 1}
    assert sorted(majority.values()) == sorted(
        {"billing", "cancellation", "delivery", "login", "defect"})
    cancel = next(r for r in rep.rows if majority[r["topic_id"]] == "cancellation")
    assert (cancel["calls"], cancel["previous"], cancel["change"]) == (6, 2, 4)
    assert "解約" in cancel["terms"]
    assert sum(r["share"] for r in rep.rows) == pytest.approx(1.0, abs=0.01)


def test_the_number_of_topics_is_chosen_from_the_calls(voc) -> None:  # type: ignore[no-untyped-def]
    rt, _ = voc
    rows = _report(rt).rows
    assert 2 <= len(rows) <= topics.MAX_AUTO_TOPICS
    assert [r["topic_id"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows == _report(rt).rows  # the same calls give the same topics


def test_no_name_place_or_number_becomes_a_term() -> None:
    words = topics.terms("田中と申します。東京都の住所で、番号は1234です。解約金の請求書について。")
    assert "解約金" in words and "請求書" in words
    assert not any(n in w for w in words for n in ("田中", "東京", "1234"))
    assert not any(n in w for w in words for n in NAMES)


def test_each_role_sees_its_scope(voc) -> None:  # type: ignore[no-untyped-def]
    rt, truth = voc
    sato = Principal(name="sato@example.com", role="operator", agent_name="sato")
    assert _report(rt, sato).documents == sum(1 for t in truth.values() if t[2] == "sato")
    nobody = Principal(name="sv0@example.com", role="supervisor")  # no team: nothing
    rep = _report(rt, nobody)
    assert (rep.documents, rep.rows) == (0, [])


def test_bad_topic_count_is_refused_and_reads_are_audited(voc) -> None:  # type: ignore[no-untyped-def]
    rt, _ = voc
    for bad in (0, topics.MAX_TOPICS + 1):
        with pytest.raises(ReportError, match="topics must be between 1 and 20"):
            _report(rt, topics=bad)
    _report(rt, topics=3)
    with rt.db.session() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "report.topics" in actions


def test_cli(voc) -> None:  # type: ignore[no-untyped-def]
    _, truth = voc
    out = CliRunner().invoke(app, ["report", "topics", "--since", SINCE, "--until", UNTIL,
                                   "--topics", "5", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["calls_considered"] == len(truth) and len(doc["topics"]) == 5
    assert set(doc["topics"][0]) == set(topics.TOPIC_KEYS)
    out = CliRunner().invoke(app, ["report", "topics", "--topics", "0"])
    assert out.exit_code != 0 and "topics must be between 1 and 20" in out.output


def test_terms_are_kept_per_transcript_and_go_with_the_call(voc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rokuon.store.models import Call, TranscriptTerms

    rt, truth = voc
    first = _report(rt, topics=5).contract()
    with rt.db.session() as s:
        assert s.query(TranscriptTerms).count() == len(truth)

    def no_tokenising(text: str) -> list[str]:
        raise AssertionError("a kept call was tokenised again")

    monkeypatch.setattr(topics, "terms", no_tokenising)
    assert _report(rt, topics=5).contract() == first  # from the kept terms alone
    gone = next(iter(truth))
    with rt.db.session() as s:
        s.delete(s.get(Call, gone))
    with rt.db.session() as s:
        assert s.query(TranscriptTerms).filter_by(call_id=gone).count() == 0
        assert s.query(TranscriptTerms).count() == len(truth) - 1
