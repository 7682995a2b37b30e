"""The CRM/SMS admin page, the call page's SMS button and Twilio's inbound STOP hook in
the browser's HTTP (sign-in, CSRF, roles, the door's scope)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from rokuon.store.models import AuditEntry
from rokuon.store.models_integrations import CrmDelivery, SmsMessage, SmsOptOut
from rokuon.web.app import create_app
from tests.access.test_security import _call
from tests.integrations.test_sms import SID, TOKEN, FakeTwilio
from tests.web.conftest import make_user, sign_in


@pytest.fixture
def web(rt, httpserver: HTTPServer):  # type: ignore[no-untyped-def]
    for k, v in {"sms_provider": "twilio", "sms_from": "+815012345678",
                 "twilio_account_sid": SID, "twilio_auth_token": TOKEN,
                 "twilio_api_base_url": httpserver.url_for("").rstrip("/")}.items():
        object.__setattr__(rt.settings, k, v)
    tw = FakeTwilio(httpserver)
    secrets = {"admin": make_user(rt, "adm2@example.com", "admin"),
               "operator": make_user(rt, "sato@example.com", "operator", agent_name="sato")}
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield rt, c, secrets, tw


def test_failing_deliveries_are_shown_and_sent_again(web) -> None:  # type: ignore[no-untyped-def]
    rt, c, secrets, _ = web
    cid = uuid.uuid4().hex
    with rt.db.session() as s:
        s.add(CrmDelivery(target="sales", kind="salesforce", call_id=cid, payload="{}",
                          status="dead", attempts=6, next_attempt_at=datetime.now(UTC),
                          last_error="Salesforce HTTP 400: INVALID_FIELD: No such column "
                          "'Foo__c' on sobject of type Task", response_code=400))
    sign_in(c, "sato@example.com", secrets["operator"])
    assert c.get("/admin/crm").status_code == 403
    sign_in(c, "adm2@example.com", secrets["admin"])
    page = c.get("/admin/crm?lang=en")
    assert page.status_code == 200 and "Failing deliveries" in page.text
    assert "No such column &#39;Foo__c&#39;" in page.text
    ja = c.get("/admin/crm?lang=ja").text
    assert "失敗している送信" in ja and "停止（要対応）" in ja
    with rt.db.session() as s:
        did = s.scalars(select(CrmDelivery.id)).one()
    r = c.post(f"/admin/crm/deliveries/{did}/retry", data={"csrf": "wrong"})
    assert r.status_code == 403
    r = c.post(f"/admin/crm/deliveries/{did}/retry", data={"csrf": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    with rt.db.session() as s:
        d = s.get(CrmDelivery, did)
        assert (d.status, d.attempts) == ("pending", 0)
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "crm.retry")).one()
    assert c.get("/api/crm/deliveries?status=pending").json()["deliveries"][0]["delivery_id"] == did
    assert c.get("/api/crm/deliveries?status=nope").status_code == 422


def test_the_agent_sends_the_sms_of_their_own_call_only(web) -> None:  # type: ignore[no-untyped-def]
    rt, c, secrets, tw = web
    mine = _call(rt, 301, json.dumps({"agent": "sato", "customer_number": "090-1234-5678"}))
    theirs = _call(rt, 302, json.dumps({"agent": "kato", "customer_number": "09011112222"}))
    sign_in(c, "sato@example.com", secrets["operator"])
    page = c.get(f"/calls/{mine}?lang=en")
    assert "Send the follow-up SMS" in page.text and f'/calls/{mine}/sms' in page.text
    r = c.post(f"/calls/{mine}/sms", data={"csrf": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and "sms=queued" in r.headers["location"]
    assert [m["To"] for m in tw.sent] == ["+819012345678"]
    assert c.post(f"/calls/{theirs}/sms", data={"csrf": c.csrf}).status_code == 404  # type: ignore[attr-defined]
    assert len(tw.sent) == 1
    with rt.db.session() as s:
        (m,) = s.scalars(select(SmsMessage)).all()
        assert (m.call_id, m.trigger, m.created_by) == (mine, "agent", "sato@example.com")
        assert m.provider_id.startswith("SM")
        acts = {a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.object_id == mine))}
    assert {"sms.request", "sms.queue", "sms.send"} <= acts


def test_a_signed_stop_reply_opts_out_and_a_forged_one_does_nothing(web) -> None:  # type: ignore[no-untyped-def]
    rt, c, _, _ = web
    url = "http://testserver/api/sms/twilio/inbound"
    object.__setattr__(rt.settings, "public_url", "")
    params = {"From": "+819012345678", "To": "+815012345678", "Body": "STOP",
              "MessageSid": "SM" + "1" * 32, "AccountSid": SID}
    forged = c.post(url, data=params, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403
    with rt.db.session() as s:
        assert s.get(SmsOptOut, "+819012345678") is None
    sig = RequestValidator(TOKEN).compute_signature(url, params)
    r = c.post(url, data=params, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 200 and "<Response>" in r.text
    with rt.db.session() as s:
        assert s.get(SmsOptOut, "+819012345678").source == "stop-reply"


def test_the_pages_are_japanese(web) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_japanese_ui import leaks

    rt, c, secrets, _ = web
    cid = _call(rt, 303, json.dumps({"agent": "sato", "customer_number": "0312345678"}))
    with rt.db.session() as s:
        s.add(CrmDelivery(target="sales", kind="salesforce", call_id=cid, payload="{}",
                          status="dead", attempts=1, next_attempt_at=datetime.now(UTC)))
    sign_in(c, "adm2@example.com", secrets["admin"])
    c.post(f"/calls/{cid}/sms", data={"csrf": c.csrf})  # type: ignore[attr-defined]
    c.cookies.set("lang", "ja")
    page = c.get("/admin/crm")
    assert page.status_code == 200 and "失敗している送信" in page.text
    # the call id (hex, e.g. 255af45b…) is data, not English
    assert leaks(page.text, {"sales", "salesforce", "+81312345****", cid, cid[:8]}) == []
    call_page = c.get(f"/calls/{cid}?sms=queued")
    assert "お礼のショートメッセージを送る" in call_page.text and "送信待ち" in call_page.text
