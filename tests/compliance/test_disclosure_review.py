"""The four-eyes review of a disclosure package: draft with suggestions, a second
compliance officer accepts/rejects/adds spans and approves; only then published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from rokuon.access import audit
from rokuon.access.door import AccessDenied
from rokuon.access.principal import Principal
from rokuon.compliance import dsar, package, review
from rokuon.store.models import AuditEntry, DisclosureExport
from tests.compliance.test_dsar import PASSWORD, _call, _open

BUILDER = Principal(name="builder@example.jp", role="compliance")
REVIEWER = Principal(name="reviewer@example.jp", role="compliance")


def _request(rt, tmp_path: Path, seed: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    call_id = _call(rt, tmp_path, seed)
    with rt.db.session() as s:
        req = dsar.create_request(s, BUILDER, customer_number="0312345678", name="田中一郎")
        dsar.verify_identity(s, BUILDER, req.id, method="運転免許証の写し")
        return req.id, call_id




def test_four_eyes_review_then_publish(rt, tmp_path: Path) -> None:
    rid, cid = _request(rt, tmp_path, 41)
    doc = review.draft(rt, BUILDER, rid)
    rev_id = doc["review_id"]
    assert doc["status"] == "draft" and doc["undecided"] >= 3
    assert all(sp["state"] == "suggested" for sp in doc["calls"][cid])
    with rt.db.session() as s:  # the builder cannot review their own draft
        with pytest.raises(review.ReviewError, match="four-eyes"):
            review.set_state(s, BUILDER, rev_id, cid, doc["calls"][cid][0]["id"], "accepted")
        with pytest.raises(review.ReviewError, match="four-eyes"):
            review.approve(s, BUILDER, rev_id)
        with pytest.raises(review.ReviewError, match="neither accepted nor rejected"):
            review.approve(s, REVIEWER, rev_id)
        with pytest.raises(AccessDenied):
            review.approve(s, Principal(name="sv@example.jp", role="supervisor"), rev_id)
    with pytest.raises(review.ReviewError, match="only an approved"):
        review.publish(rt, REVIEWER, rev_id, password=PASSWORD)
    # the reviewer rejects the suggestion(s) masking 花子 and accepts the rest
    hanako = [sp["id"] for sp in doc["calls"][cid] if "花子" in sp["text"]]
    assert hanako
    with rt.db.session() as s:
        for sp in doc["calls"][cid]:
            review.set_state(s, REVIEWER, rev_id, cid, sp["id"],
                             "rejected" if sp["id"] in hanako else "accepted")
    with pytest.raises(review.ReviewError, match="start < end"):
        review.add_span(rt, REVIEWER, rev_id, cid, start=11.0, end=10.0)
    with pytest.raises(review.ReviewError, match="not found in review"):
        review.add_span(rt, REVIEWER, rev_id, "nosuchcall", start=1.0, end=2.0)
    added = review.add_span(rt, REVIEWER, rev_id, cid, start=9.6, end=11.9,
                            note="requester asked: mask own name line")
    assert added["calls"][cid][-1]["source"] == "reviewer"
    with rt.db.session() as s:
        approved = review.approve(s, REVIEWER, rev_id, note="checked")
        assert approved["status"] == "approved" and approved["reviewed_by"] == REVIEWER.name
        with pytest.raises(review.ReviewError, match="only a draft"):
            review.set_state(s, REVIEWER, rev_id, cid, hanako[0], "accepted")
    token, record = review.publish(rt, REVIEWER, rev_id, password=PASSWORD)
    files = _open(package.fetch_published(rt, token))
    text = files[f"calls/{cid}/transcript.txt"].decode()
    assert "花子" in text  # rejected suggestion: not masked
    assert "鈴木" not in text and "木村" not in text  # accepted ones: masked
    assert "田中一郎です" not in text  # the reviewer's own span
    assert json.loads(files["handling_record.json"])["reviewed"] is True
    with rt.db.session() as s:
        assert review.latest(s, rid).status == "published"
        assert s.scalars(select(DisclosureExport)).first() is not None
        actions = {e.action for e in s.scalars(select(AuditEntry))}
        assert audit.verify(s).ok
    assert {"request.review.draft", "request.review.accept", "request.review.reject",
            "request.review.add", "request.review.approve", "request.review.publish",
            "request.publish"} <= actions


def test_new_draft_supersedes_and_errors_are_named(rt, tmp_path: Path) -> None:
    rid, _ = _request(rt, tmp_path, 42)
    first = review.draft(rt, BUILDER, rid)
    second = review.draft(rt, REVIEWER, rid, agent_voice="keep")
    with rt.db.session() as s:
        assert review.latest(s, rid).id == second["review_id"]
        with pytest.raises(review.ReviewError, match="superseded"):
            review.approve(s, BUILDER, first["review_id"])
        with pytest.raises(review.ReviewError, match="not found"):
            review.approve(s, BUILDER, 999999)
    with pytest.raises(review.ReviewError, match="agent voice"):
        review.draft(rt, BUILDER, rid, agent_voice="loud")
    with rt.db.session() as s:
        erasure = dsar.create_request(s, BUILDER, kind="erasure", customer_number="0312345678")
        eid = erasure.id
    with pytest.raises(review.ReviewError, match="not a disclosure"):
        review.draft(rt, BUILDER, eid)


def test_cli_review_contract(rt, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rokuon.cli.main import app
    from rokuon.users.service import create_user

    rid, cid = _request(rt, tmp_path, 43)
    with rt.db.session() as s:
        create_user(s, Principal.cli(), "officer@example.jp", "compliance", None, None)
        create_user(s, Principal.cli(), "op@example.jp", "operator", None, None)
    runner = CliRunner()
    r = runner.invoke(app, ["dsar", "review", "draft", rid, "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    rev = str(doc["review_id"])
    first = doc["calls"][cid][0]["id"]
    r = runner.invoke(app, ["dsar", "review", "span", rev, cid, str(first), "--state",
                            "accepted"])  # the CLI admin built it: refused
    assert r.exit_code == 1 and "four-eyes" in r.stderr
    r = runner.invoke(app, ["dsar", "review", "approve", rev, "--as", "op@example.jp"])
    assert r.exit_code == 1 and "cannot review disclosures" in r.stderr
    r = runner.invoke(app, ["dsar", "review", "approve", rev, "--as", "nobody@example.jp"])
    assert r.exit_code == 1 and "no such enabled user" in r.stderr
    for sp in doc["calls"][cid]:
        r = runner.invoke(app, ["dsar", "review", "span", rev, cid, str(sp["id"]), "--state",
                                "accepted", "--as", "officer@example.jp"])
        assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["dsar", "review", "approve", rev, "--as", "officer@example.jp",
                            "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "approved"
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD, encoding="utf-8")
    r = runner.invoke(app, ["dsar", "review", "publish", rev, "--password-file", str(pw),
                            "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["download_path"].startswith("/requests/download/")
    r = runner.invoke(app, ["dsar", "review", "show", rid, "--json"])
    assert json.loads(r.stdout)["status"] == "published"
    r = runner.invoke(app, ["dsar", "review", "show", "nope"])
    assert r.exit_code == 1 and "request nope not found" in r.stderr
