"""The alert store (deduplicated, one alert.raised each), Slack Block Kit messages to a
fake Slack that answers as Slack does, and call.analyzed from the analyze step."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.integrations import alerts, raise_alert, webhooks
from rokuon.integrations.slack import message
from rokuon.store.models import Alert, WebhookDelivery
from tests.access.test_security import _call
from tests.integrations.conftest import slack_verdict
from tests.integrations.test_webhooks import add, deliveries, wait_status

ALERT = {"call_id": "live0001", "rule": "kasuhara", "kind": "complaint",
         "speaker": "customer", "start": 12.3456, "end": 15.0,
         "text": "ふざけるな、責任者を出せ", "score": 0.91}


def test_an_alert_is_stored_once_and_announced_once(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    add(rt, rec.url, ["alert.raised"])
    with rt.db.session() as s:
        a = raise_alert(s, **ALERT)
        first_id = a.id
    with rt.db.session() as s:  # the same rule firing again on the same call
        again = raise_alert(s, **{**ALERT, "start": 20.0, "text": "もう一度", "score": 0.99})
        assert again.id == first_id and again.text == ALERT["text"]
        other = raise_alert(s, **{**ALERT, "rule": "ng-words", "kind": "ng_word"})
        assert other.id != first_id
    with rt.db.session() as s:
        assert len(s.scalars(select(Alert)).all()) == 2
    assert [d.event_type for d in deliveries(rt)] == ["alert.raised", "alert.raised"]
    worker()
    rec.wait_for(2)
    docs = sorted((json.loads(r.body) for r in rec.requests), key=lambda d: d["data"]["rule"])
    assert docs[0]["type"] == "alert.raised"
    assert docs[0]["data"] == {**ALERT, "start": 12.346}  # exactly the contract's keys
    assert set(docs[1]["data"]) == {"call_id", "rule", "kind", "speaker", "start", "end",
                                    "text", "score"}
    wait_status(rt, "delivered", n=2)


def test_bad_alerts_are_refused(rt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(alerts.AlertError, match="kind must be one of"), rt.db.session() as s:
        raise_alert(s, **{**ALERT, "kind": "angry"})


def test_alerts_are_listed_in_scope_and_acknowledged(rt) -> None:  # type: ignore[no-untyped-def]
    mine = _call(rt, 501, '{"agent": "sato", "team": "A"}')
    theirs = _call(rt, 502, '{"agent": "kato", "team": "B"}')
    with rt.db.session() as s:
        for cid in (mine, theirs, "live-not-yet-a-call"):
            raise_alert(s, **{**ALERT, "call_id": cid})
    sato = Principal(name="sato@example.com", role="operator", agent_name="sato")
    sv_b = Principal(name="sv@example.com", role="supervisor", team="B")
    admin = Principal(name="boss@example.com", role="admin")
    auditor = Principal(name="au@example.com", role="auditor")
    with rt.db.session() as s:
        assert {a.call_id for a in alerts.list_alerts(s, sato)} == {mine}
        assert {a.call_id for a in alerts.list_alerts(s, sv_b)} == {theirs}
        assert {a.call_id for a in alerts.list_alerts(s, admin)} == {
            mine, theirs, "live-not-yet-a-call"}
        assert alerts.list_alerts(s, auditor) == []
        assert alerts.list_alerts(s, sato, call_id=theirs) == []
        theirs_alert = alerts.list_alerts(s, admin, call_id=theirs)[0]
        assert alerts.acknowledge(s, sato, theirs_alert.id) is None  # out of scope
        mine_alert = alerts.list_alerts(s, sato)[0]
        acked = alerts.acknowledge(s, sato, mine_alert.id)
        assert acked is not None and acked.acknowledged_by == "sato@example.com"
        assert alerts.list_alerts(s, sato, unacknowledged=True) == []


def test_slack_gets_block_kit_with_masked_text_and_a_link(rt, fake_slack, worker) -> None:  # type: ignore[no-untyped-def]
    add(rt, fake_slack.url, ["alert.raised", "call.analyzed"], secret=None, kind="slack")
    with rt.db.session() as s:
        raise_alert(s, **{**ALERT, "kind": "pci", "rule": "card",
                          "text": "カード番号は4111 1111 1111 1111、よんいちいちいちです"})
        webhooks.emit(s, "call.analyzed", {"call_id": "c9", "qa_score": 72.5,
                                           "duration_s": 185.2, "complaint": True,
                                           "summary": "x" * 5000})
    worker()
    fake_slack.wait_for(2)
    wait_status(rt, "delivered", n=2)  # the fake answered "ok" to both
    by_type = {}
    for r in fake_slack.requests:
        assert r.headers["content-type"] == "application/json"
        assert "webhook-signature" not in r.headers
        doc = json.loads(r.body)
        by_type["alert" if "live0001" in r.body.decode() else "analyzed"] = doc
    doc = by_type["alert"]
    assert doc["text"]
    kinds = [b["type"] for b in doc["blocks"]]
    assert kinds[0] == "header" and "actions" in kinds
    header = doc["blocks"][0]["text"]["text"]
    assert "card" in header
    text = json.dumps(doc, ensure_ascii=False)
    assert not re.search(r"4111|1111|よんいちいちいち", text)  # every spoken digit masked
    button = next(b for b in doc["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"] == "https://rokuon.example.jp/calls/live0001"
    long = by_type["analyzed"]
    assert all(len(b["text"]["text"]) <= 3000 for b in long["blocks"] if "text" in b)


def test_slack_refusing_a_body_makes_it_dead_at_once(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    rec = receivers(lambda _r: (400, b"invalid_payload", 0.0))
    add(rt, rec.url, ["call.ended"], secret=None, kind="slack")
    with rt.db.session() as s:
        webhooks.emit(s, "call.ended", {"call_id": "c10"})
    worker()
    (d,) = wait_status(rt, "dead")
    assert d.attempts == 1 and d.response_code == 400
    assert d.last_error == "HTTP 400: invalid_payload"


def test_the_fake_slack_is_strict() -> None:
    assert slack_verdict(b"not json") == (400, b"invalid_payload")
    assert slack_verdict(b"{}") == (400, b"invalid_payload")
    assert slack_verdict(json.dumps({"blocks": [{"type": "header", "text": {
        "type": "plain_text", "text": "x" * 151}}]}).encode())[0] == 400
    for etype in ("alert.raised", "call.analyzed", "call.started", "call.ended",
                  "webhook.test"):
        data = {**ALERT, "text": "あ" * 4000, "rule": "r" * 300, "summary": "い" * 4000}
        body = json.dumps(message({"type": etype, "data": data}, "https://x.example"))
        assert slack_verdict(body.encode()) == (200, b"ok"), etype
    no_link = message({"type": "alert.raised", "data": ALERT}, "")
    assert all(b["type"] != "actions" for b in no_link["blocks"])


def test_call_analyzed_is_emitted_once_per_analysis(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    add(rt, rec.url, ["call.analyzed"])
    cid = _call(rt, 503, '{"agent": "sato"}',
                text="ふざけるな、責任者を出せ。もう解約します。二度と電話しないでくれ")
    rows = [d for d in deliveries(rt) if d.event_type == "call.analyzed"]
    assert len(rows) == 1 and rows[0].call_id == cid
    worker()
    (req,) = rec.wait_for(1)
    doc = json.loads(req.body)
    assert doc["type"] == "call.analyzed"
    data = doc["data"]
    assert set(data) == {"call_id", "qa_score", "duration_s", "complaint", "summary"}
    assert data["call_id"] == cid and isinstance(data["complaint"], bool)
    # the call's summary (engine.analysis.summary): its one sentence, no digits
    assert data["summary"] == "ふざけるな、責任者を出せ。もう解約します。二度と電話しないでくれ"
    assert abs(data["duration_s"] - 1.0) < 0.05
    with rt.db.session() as s:
        from rokuon.store.models import Call

        call = s.get(Call, cid)
        assert call is not None and data["qa_score"] == call.qa_score
        assert len(s.scalars(select(WebhookDelivery)
                             .where(WebhookDelivery.event_type == "call.analyzed")).all()) == 1
    time.sleep(0.3)
    assert len(rec.requests) == 1
