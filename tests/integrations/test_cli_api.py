"""`rokuon webhooks …` (the contract's JSON, one-line errors) and the admin API."""

from __future__ import annotations

import json
import socket

from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from rokuon.cli.main import app
from rokuon.integrations import raise_alert
from rokuon.store.models import AuditEntry, WebhookDelivery, WebhookEndpoint
from rokuon.web.app import create_app
from tests.access.test_security import _call
from tests.integrations.conftest import SECRET
from tests.integrations.test_alerts_slack import ALERT
from tests.integrations.test_webhooks import wait_status
from tests.web.conftest import make_user, sign_in

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_add_list_test_remove(rt, receivers) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    r = run("webhooks", "add", rec.url, "--events", "alert.raised", "--events",
            "call.analyzed", "--secret", SECRET, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["webhook_id"] and isinstance(doc["webhook_id"], str)
    wid = doc["webhook_id"]
    listed = json.loads(run("webhooks", "list", "--json").stdout)["webhooks"]
    assert [w["webhook_id"] for w in listed] == [wid]
    assert listed[0]["events"] == ["alert.raised", "call.analyzed"]
    assert SECRET not in run("webhooks", "list", "--json").stdout
    r = run("webhooks", "test", wid)
    assert r.exit_code == 0, r.stderr
    (req,) = rec.wait_for(1)
    assert Webhook(SECRET).verify(req.body, req.headers)["type"] == "webhook.test"
    r = run("webhooks", "remove", wid)
    assert r.exit_code == 0
    assert json.loads(run("webhooks", "list", "--json").stdout)["webhooks"] == []
    assert run("webhooks", "remove", wid).exit_code == 1
    with rt.db.session() as s:
        actions = s.scalars(select(AuditEntry.action)
                            .where(AuditEntry.action.like("webhook.%"))).all()
    assert actions == ["webhook.add", "webhook.remove"]


def test_a_generated_secret_is_shown_once(rt) -> None:  # type: ignore[no-untyped-def]
    r = run("webhooks", "add", "http://127.0.0.1:9/x", "--events", "call.ended", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["secret"].startswith("whsec_") and len(doc["webhook_id"]) == 32
    r = run("webhooks", "add", "http://127.0.0.1:9/s", "--events", "alert.raised",
            "--kind", "slack", "--json")
    assert r.exit_code == 0 and list(json.loads(r.stdout)) == ["webhook_id"]


def test_bad_input_is_one_line_and_stores_nothing(rt) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (["--secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "must start with 'whsec_'"),
        (["--secret", "whsec_***not-base64***"], "not base64"),
        (["--secret", SECRET, "--kind", "teams"], "kind must be one of"),
        (["--secret", SECRET, "--kind", "slack"], "takes no --secret"),
    ]
    for extra, message in cases:
        r = run("webhooks", "add", "http://127.0.0.1:9/x", "--events", "alert.raised", *extra)
        assert r.exit_code == 1 and message in r.stderr, (extra, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stdout == ""
    r = run("webhooks", "add", "http://127.0.0.1:9/x", "--events", "alert.fired",
            "--secret", SECRET)
    assert r.exit_code == 1 and "unknown event 'alert.fired'" in r.stderr
    assert "alert.raised, call.analyzed, call.started, call.ended" in r.stderr
    r = run("webhooks", "add", "gopher://127.0.0.1/x", "--events", "alert.raised",
            "--secret", SECRET)
    assert r.exit_code == 1 and "https://" in r.stderr
    with rt.db.session() as s:
        assert s.scalars(select(WebhookEndpoint)).all() == []


def test_private_addresses_are_refused_by_default(settings, installation) -> None:  # type: ignore[no-untyped-def]
    r = run("webhooks", "add", "http://127.0.0.1:8080/x", "--events", "alert.raised",
            "--secret", SECRET)
    assert r.exit_code == 1 and "webhook_allow_private" in r.stderr
    assert r.stderr.count("\n") == 1


def test_testing_an_unreachable_url_fails_clearly(rt) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{closed_port()}/hook"
    wid = json.loads(run("webhooks", "add", url, "--events", "alert.raised", "--secret",
                         SECRET, "--json").stdout)["webhook_id"]
    r = run("webhooks", "test", wid)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert f"webhook {wid}: test delivery failed: ConnectError" in r.stderr
    with rt.db.session() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []  # nothing half-saved
    assert run("webhooks", "test", "nope").exit_code == 1


def test_dead_letters_are_listed_and_retried_from_the_cli(rt, receivers) -> None:  # type: ignore[no-untyped-def]
    rec = receivers(lambda _r: (503, b"down for maintenance", 0.0))
    wid = json.loads(run("webhooks", "add", rec.url, "--events", "alert.raised", "--secret",
                         SECRET, "--json").stdout)["webhook_id"]
    with rt.db.session() as s:
        raise_alert(s, **ALERT)
        d = s.scalars(select(WebhookDelivery)).one()
        d.attempts = 5  # the last attempt is next
    assert run("webhooks", "run", "--once").exit_code == 0
    dead = json.loads(run("webhooks", "deliveries", "--status", "dead", "--json").stdout)
    (row,) = dead["deliveries"]
    assert row["webhook_id"] == wid and row["type"] == "alert.raised"
    assert row["attempts"] == 6 and row["response_code"] == 503
    assert row["last_error"] == "HTTP 503: down for maintenance"
    rec.respond = lambda _r: (200, b"ok", 0.0)
    assert run("webhooks", "retry", str(row["delivery_id"])).exit_code == 0
    assert run("webhooks", "run", "--once").exit_code == 0
    wait_status(rt, "delivered")
    r = run("webhooks", "retry", str(row["delivery_id"]))
    assert r.exit_code == 1 and "already delivered" in r.stderr
    assert run("webhooks", "deliveries", "--status", "lost").exit_code == 1


def test_the_admin_api(rt, receivers) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    mine = _call(rt, 601, '{"agent": "sato", "team": "A"}')
    other = _call(rt, 602, '{"agent": "kato", "team": "B"}')
    admin_totp = make_user(rt, "root@example.com", "admin")
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "root@example.com", admin_totp)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        r = c.post("/api/webhooks", json={"url": rec.url, "events": ["alert.raised"],
                                          "secret": SECRET}, headers=h)
        assert r.status_code == 201 and list(r.json()) == ["webhook_id"]
        wid = r.json()["webhook_id"]
        r = c.post("/api/webhooks", json={"url": rec.url, "events": ["nope"],
                                          "secret": SECRET}, headers=h)
        assert r.status_code == 422 and "unknown event" in r.json()["error"]
        r = c.post("/api/webhooks", json={"url": rec.url, "events": ["alert.raised"],
                                          "secret": SECRET})
        assert r.status_code == 403  # no CSRF token
        assert [w["webhook_id"] for w in c.get("/api/webhooks").json()["webhooks"]] == [wid]
        with rt.db.session() as s:
            for cid in (mine, other):
                raise_alert(s, **{**ALERT, "call_id": cid})
        ds = c.get("/api/webhooks/deliveries").json()["deliveries"]
        assert len(ds) == 2 and {d["status"] for d in ds} == {"pending"}
        assert c.get("/api/webhooks/deliveries?status=dead").json()["deliveries"] == []
        assert c.get("/api/webhooks/deliveries?status=odd").status_code == 422
        assert {a["call_id"] for a in c.get("/api/alerts").json()["alerts"]} == {mine, other}

        sign_in(c, "sato@example.com", None)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        assert c.get("/api/webhooks").status_code == 403
        assert c.post("/api/webhooks", json={}, headers=h).status_code == 403
        (a,) = c.get("/api/alerts").json()["alerts"]
        assert a["call_id"] == mine and a["text"] == ALERT["text"]
        assert c.get(f"/api/alerts?call_id={other}").json()["alerts"] == []
        r = c.post(f"/api/alerts/{a['alert_id']}/ack", headers=h)
        assert r.status_code == 200 and r.json()["acknowledged_by"] == "sato@example.com"
        theirs = [x for x in ds if x["call_id"] == other]
        assert theirs
        with rt.db.session() as s:
            from rokuon.store.models import Alert

            other_alert = s.scalars(select(Alert).where(Alert.call_id == other)).one().id
        assert c.post(f"/api/alerts/{other_alert}/ack", headers=h).status_code == 404

        sign_in(c, "root@example.com", admin_totp)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        assert c.delete(f"/api/webhooks/{wid}", headers=h).status_code == 200
        assert c.delete(f"/api/webhooks/{wid}", headers=h).status_code == 404
    with rt.db.session() as s:
        actions = set(s.scalars(select(AuditEntry.action)).all())
    assert {"webhook.add", "webhook.list", "webhook.deliveries", "webhook.remove",
            "alert.list", "alert.ack"} <= actions
