"""The coaching cycle: a comment at a moment, the agent's reply and acknowledgement, a
QA override with a reason (the automatic result beside it, the score and the report
figures moved, kept through a re-analysis), the coach's queue, and who may do what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access.door import AccessDenied, NotFound
from rokuon.access.permissions import Forbidden
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.coaching import comments, overrides, queue
from rokuon.pipeline import jobs, steps
from rokuon.store.models import (
    AuditEntry,
    Call,
    CallComment,
    CallKpi,
    JobStatus,
    PipelineJob,
    QaOverride,
)
from rokuon.web.app import create_app
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import make_user, sign_in

SV = Principal(name="sv@example.com", role="supervisor", team="A")
SATO = Principal(name="sato@example.com", role="operator", agent_name="sato")
KATO = Principal(name="kato@example.com", role="operator", agent_name="kato")
SV_B = Principal(name="sv-b@example.com", role="supervisor", team="B")
LINES = [("agent", 0.0, 3.0, "お電話ありがとうございます。山田商事の佐藤でございます。"),
         ("customer", 3.2, 6.0, "請求書の金額が違うんですけど、ふざけるなよ。"),
         ("agent", 6.2, 9.0, "確認いたします。"),
         ("customer", 9.2, 11.0, "早くしてください。")]


def _call(rt, seed: int, agent: str = "sato", team: str = "A") -> str:  # type: ignore[no-untyped-def]
    cid = ingest_stream(rt, [tone_wav(12.0, seed=seed)], name=f"k{seed}.wav",
                        actor=Principal.cli(),
                        meta=parse_metadata(f'{{"agent": "{agent}", "team": "{team}"}}')
                        ).call_id
    write_transcript(rt, cid, LINES)
    return cid


def _reanalyze(rt, cid: str) -> None:  # type: ignore[no-untyped-def]
    """As ``rokuon`` does after a scorecard change: the analyze step runs again."""
    with rt.db.session() as s:
        assert jobs.rerun(s, cid, "analyze")
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == cid,
                                                  PipelineJob.step == "analyze")).one()
        job.status, job.lease_owner = JobStatus.RUNNING, "test"
    steps.STEP_FUNCTIONS["analyze"](rt, job, "test")


def test_comment_reply_acknowledge(rt) -> None:  # type: ignore[no-untyped-def]
    cid = _call(rt, 401)
    with rt.db.session() as s:
        c = comments.add(s, SV, cid, body="ここで要件を復唱しましょう <b>", at_s=6.2)
        b = comments.add(s, SV, cid, body="", at_s=3.2, kind="bookmark")
        root = c.id
    with rt.db.session() as s:
        r = comments.add(s, SATO, cid, body="次から復唱します", parent_id=root)
        assert r.parent_id == root and r.at_s == 6.2  # a reply sits at its thread's moment
        with pytest.raises(AccessDenied, match="agent"):
            comments.acknowledge(s, SV, cid, root)  # not the supervisor's to acknowledge
    with rt.db.session() as s:
        comments.acknowledge(s, SATO, cid, root)
    with rt.db.session() as s:
        ths = comments.threads(s, SV, cid)
        assert [t.root.id for t in ths] == [b.id, root]  # in call order
        assert ths[1].root.acknowledged_by == "sato@example.com"
        assert [x.body for x in ths[1].replies] == ["次から復唱します"]
        assert ths[1].root.body == "ここで要件を復唱しましょう <b>"  # stored as written
        # the coach adds to an acknowledged thread: it waits for the agent again
        comments.add(s, SV, cid, body="良くなりました", parent_id=r.id)
    with rt.db.session() as s:
        assert s.get(CallComment, root).acknowledged_at is None
        acts = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.object_id == cid, AuditEntry.action.like("comment%")))]
        assert acts.count("comment.add") == 3 and "comment.acknowledge" in acts


def test_comments_are_scoped_and_checked(rt) -> None:  # type: ignore[no-untyped-def]
    cid = _call(rt, 402)
    with rt.db.session() as s:
        for who in (KATO, SV_B, Principal(name="au@example.com", role="auditor")):
            with pytest.raises(NotFound):
                comments.add(s, who, cid, body="x")
    bad = [({"body": ""}, "needs text"), ({"body": "x" * 4001}, "at most 4000"),
           ({"body": "a\x00b"}, "NUL"), ({"body": 5}, "must be text"),
           ({"body": "x", "at_s": 99.0}, "outside the call"),
           ({"body": "x", "at_s": "1:00"}, "number of seconds"),
           ({"body": "x", "kind": "note"}, "kind"),
           ({"body": "x", "parent_id": 999999}, "no comment 999999")]
    for kwargs, msg in bad:
        with rt.db.session() as s, pytest.raises(comments.CommentError, match=msg):
            comments.add(s, SV, cid, **kwargs)
    with rt.db.session() as s:
        assert s.scalars(select(CallComment).where(CallComment.call_id == cid)).all() == []


def test_override_moves_score_keeps_automatic_and_survives_reanalysis(rt) -> None:  # type: ignore[no-untyped-def]
    cid = _call(rt, 403)
    with rt.db.session() as s:
        auto = overrides.automatic_qa(s, cid)
        assert auto and auto["criteria"]
        failed = next(c for c in auto["criteria"] if c["passed"] is False)
        before = s.get(Call, cid).qa_score
        assert before == auto["score"]
    with rt.db.session() as s:
        with pytest.raises(Forbidden):
            overrides.set_override(s, SATO, cid, failed["id"], passed=True, reason="違います")
        with pytest.raises(NotFound):
            overrides.set_override(s, SV_B, cid, failed["id"], passed=True, reason="他チーム")
        with pytest.raises(overrides.OverrideError, match="reason"):
            overrides.set_override(s, SV, cid, failed["id"], passed=True, reason="ok")
        with pytest.raises(overrides.OverrideError, match="not in this call's scorecard"):
            overrides.set_override(s, SV, cid, "no_such", passed=True, reason="理由があります")
        with pytest.raises(overrides.OverrideError, match="true or false"):
            overrides.set_override(s, SV, cid, failed["id"], passed="yes",
                                   reason="理由があります")
    with rt.db.session() as s:
        eff = overrides.set_override(s, SV, cid, failed["id"], passed=True,
                                     reason="録音を聞いて確認: 実際には言っている")
    assert eff["score"] > before and eff["automatic"]["score"] == before
    crit = next(c for c in eff["criteria"] if c["id"] == failed["id"])
    assert crit["passed"] is True and crit["automatic"]["passed"] is False
    assert crit["override"]["by"] == SV.name
    with rt.db.session() as s:
        assert s.get(Call, cid).qa_score == eff["score"]
        assert s.get(CallKpi, cid).qa_score == eff["score"]
        assert overrides.automatic_qa(s, cid)["score"] == before  # the analysis is intact
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "qa.override",
                                               AuditEntry.object_id == cid)).one()
        assert e.detail["automatic"] is False and e.detail["passed"] is True
        assert "実際には言っている" in e.detail["reason"]
    _reanalyze(rt, cid)
    with rt.db.session() as s:
        assert s.get(Call, cid).qa_score == eff["score"]  # the override still holds
        assert s.get(CallKpi, cid).qa_passed == eff["passed"]
    with rt.db.session() as s:
        back = overrides.clear_override(s, SV, cid, failed["id"])
    assert back["score"] == before and "automatic" not in back
    with rt.db.session() as s:
        assert s.get(Call, cid).qa_score == before
        assert s.scalars(select(QaOverride).where(QaOverride.call_id == cid)).all() == []


def test_queue_lists_flagged_calls_in_scope(rt) -> None:  # type: ignore[no-untyped-def]
    a, b = _call(rt, 404), _call(rt, 405, agent="kato", team="B")
    with rt.db.session() as s:
        k = s.get(CallKpi, a)
        assert k is not None
        k.qa_passed, k.complaint = False, True
        s.get(CallKpi, b).qa_passed = False  # type: ignore[union-attr]
    with rt.db.session() as s:
        rows = {r["call_id"]: r for r in queue.build(s, SV, "Asia/Tokyo")}
    assert a in rows and b not in rows
    assert {"qa_failed", "complaint"} <= set(rows[a]["reasons"])
    assert rows[a]["state"] == "open"
    with rt.db.session() as s:
        comments.add(s, SV, a, body="要件の復唱を", at_s=1.0)
    with rt.db.session() as s:
        row = next(r for r in queue.build(s, SV, "Asia/Tokyo") if r["call_id"] == a)
    assert row["state"] == "waiting" and row["comments"] == 1 and row["unacknowledged"] == 1


def test_comments_go_with_an_erased_call(rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.calls.erase import erase_call

    cid = _call(rt, 406)
    with rt.db.session() as s:
        comments.add(s, SV, cid, body="消える", at_s=1.0)
        failed = next(c for c in overrides.automatic_qa(s, cid)["criteria"]
                      if c["passed"] is False)
        overrides.set_override(s, SV, cid, failed["id"], passed=True, reason="確認しました")
    erase_call(rt, Principal.cli(), cid, reason="erasure request")
    with rt.db.session() as s:
        assert s.scalars(select(CallComment).where(CallComment.call_id == cid)).all() == []
        assert s.scalars(select(QaOverride).where(QaOverride.call_id == cid)).all() == []


def test_over_http_and_in_the_page(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = _call(rt, 407)
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    op = make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", sv)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        r = c.post(f"/api/calls/{cid}/comments", json={"body": "x", "at_s": 1.5})
        assert r.status_code == 403  # no CSRF token
        r = c.post(f"/api/calls/{cid}/comments", json={"body": "<script>alert(1)</script>",
                                                      "at_s": 1.5}, headers=h)
        assert r.status_code == 201, r.text
        root = r.json()["id"]
        assert c.post(f"/api/calls/{cid}/comments", content=b"{oops",
                      headers={**h, "content-type": "application/json"}).status_code == 422
        assert c.post(f"/api/calls/{cid}/comments", json=["x"], headers=h).status_code == 422
        r = c.post(f"/api/calls/{cid}/comments", json={"body": "y" * 1_000_000}, headers=h)
        assert r.status_code == 422 and "at most 4000" in r.json()["error"]
        page = c.get(f"/calls/{cid}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        assert 'class="override-form"' in page
        qa = c.get(f"/api/calls/{cid}").json()["analysis"]["qa"]
        crit = next(x for x in qa["criteria"] if x["passed"] is False)
        r = c.put(f"/api/calls/{cid}/qa/{crit['id']}", json={"passed": True,
                                                             "reason": "聞いて確認しました"},
                  headers=h)
        assert r.status_code == 200 and r.json()["automatic"]["score"] == qa["score"]
        assert c.get(f"/api/calls/{cid}").json()["qa_score"] == r.json()["score"]
        q = c.get("/api/coaching/queue").json()["calls"]
        assert isinstance(q, list)
        assert c.get("/coaching").status_code == 200

        sign_in(c, "sato@example.com", op)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        assert c.put(f"/api/calls/{cid}/qa/{crit['id']}", json={"passed": False,
                                                                "reason": "違うと思います"},
                     headers=h).status_code == 403
        page = c.get(f"/calls/{cid}").text
        assert 'class="override-form"' not in page and "/ack" in page
        r = c.post(f"/calls/{cid}/comments/{root}/ack", data={"csrf": c.csrf})  # type: ignore[attr-defined]
        assert r.status_code == 303
        th = c.get(f"/api/calls/{cid}/comments").json()["comments"]
        assert th[0]["acknowledged_by"] == "sato@example.com"
        assert c.get("/coaching").status_code == 403
