"""After-call SMS against a local server speaking Twilio's Messages API (form-encoded
POST, HTTP Basic with the account SID, its JSON errors) and a generic HTTP gateway:
the rule, consent, opt-out (STOP), E.164, audit."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from rokuon.integrations import sms
from rokuon.integrations.webhooks import emit_call_analyzed
from rokuon.store.models import AuditEntry, Call
from rokuon.store.models_integrations import SmsMessage

SID, TOKEN = "AC" + "0" * 31 + "1", "tw-auth-token"


class FakeTwilio:
    def __init__(self, server: HTTPServer) -> None:
        self.sent: list[dict[str, str]] = []
        server.expect_request(f"/2010-04-01/Accounts/{SID}/Messages.json",
                              method="POST").respond_with_handler(self.handle)

    def handle(self, req: Request) -> Response:
        auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if req.headers.get("Authorization") != f"Basic {auth}":
            return Response(json.dumps({"code": 20003, "message": "Authenticate",
                                        "more_info": "https://www.twilio.com/docs/errors/20003",
                                        "status": 401}), 401, content_type="application/json")
        form = {k: v[0] for k, v in parse_qs(req.get_data(as_text=True)).items()}
        if not form.get("To", "").startswith("+81"):
            return Response(json.dumps({
                "code": 21211, "message": f"The 'To' number {form.get('To')} is not a valid "
                "phone number.", "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400}), 400, content_type="application/json")
        self.sent.append(form)
        sid = f"SM{uuid.uuid4().hex}"
        return Response(json.dumps({
            "sid": sid, "account_sid": SID, "to": form["To"], "from": form["From"],
            "body": form["Body"], "status": "queued", "num_segments": "1",
            "direction": "outbound-api", "api_version": "2010-04-01", "price": None,
            "error_code": None, "error_message": None, "date_created":
            "Tue, 08 Dec 2026 03:50:00 +0000", "date_updated": "Tue, 08 Dec 2026 03:50:00 "
            "+0000", "date_sent": None, "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
            "subresource_uris": {}}), 201, content_type="application/json")


@pytest.fixture
def sms_rt(rt, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    st = rt.settings  # the worker's settings; the analysis step reads the environment
    for k, v in {"sms_provider": "twilio", "sms_from": "+815012345678",
                 "twilio_account_sid": SID, "twilio_auth_token": TOKEN,
                 "twilio_api_base_url": httpserver.url_for("").rstrip("/"),
                 "sms_rule_flags": ["complaint"],
                 "sms_template": "{agent}です。本日はありがとうございました。"}.items():
        object.__setattr__(st, k, v)
        monkeypatch.setenv(f"ROKUON_{k.upper()}", json.dumps(v) if isinstance(v, list)
                           else v)
    return rt, FakeTwilio(httpserver)


def add_call(rt, number: str | None = "090-1234-5678") -> str:  # type: ignore[no-untyped-def]
    cid = uuid.uuid4().hex
    with rt.db.session() as s:
        s.add(Call(id=cid, content_sha256=uuid.uuid4().hex * 2, status="indexed",
                   started_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC), duration_s=60.0,
                   direction="inbound", agent="sato", customer_number=number,
                   container="wav", codec="pcm_s16le", sample_rate=8000, channels=2,
                   blob_key="k", blob_size=1))
    return cid


def analysed(rt, cid: str, consent: dict[str, Any] | None = None) -> None:  # type: ignore[no-untyped-def]
    results: dict[str, tuple[int, Any]] = {"complaint": (1, {"flags": ["complaint"]})}
    if consent is not None:
        results["consent"] = (1, consent)
    with rt.db.session() as s:
        emit_call_analyzed(s, s.get(Call, cid), results)


def messages(rt) -> list[SmsMessage]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return list(s.scalars(select(SmsMessage).order_by(SmsMessage.id)))


@pytest.mark.parametrize(("raw", "want"), [
    ("090-1234-5678", "+819012345678"), ("+81 (90) 1234 5678", "+819012345678"),
    ("0081312345678", "+81312345678"), ("+14155550100", "+14155550100")])
def test_numbers_become_e164(raw: str, want: str) -> None:
    assert sms.normalise(raw) == want


@pytest.mark.parametrize("raw", ["", "abc", "123", "+0123456789", "090-1234-5678-9999-1"])
def test_what_is_not_a_phone_number_is_named(raw: str) -> None:
    with pytest.raises(sms.SmsError, match="not a phone number"):
        sms.normalise(raw)


def test_the_rule_sends_through_twilio_and_audits(sms_rt) -> None:  # type: ignore[no-untyped-def]
    rt, tw = sms_rt
    cid = add_call(rt)
    analysed(rt, cid, {"answer": "yes", "refused": False})
    analysed(rt, cid, {"answer": "yes", "refused": False})  # again: still one message
    (m,) = messages(rt)
    assert m.status == "queued" and m.trigger == "rule" and m.to_number == "+819012345678"
    assert sms.deliver_queued(rt) == 1
    (sent,) = tw.sent
    assert sent["To"] == "+819012345678" and sent["From"] == "+815012345678"
    assert sent["Body"] == "satoです。本日はありがとうございました。"
    (m,) = messages(rt)
    assert m.status == "queued" and m.provider_id.startswith("SM") and m.error is None
    with rt.db.session() as s:
        acts = [a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.object_id == cid))]
    assert acts == ["sms.queue", "sms.send"]


@pytest.mark.parametrize("consent", [{"answer": "refused", "refused": True},
                                     {"answer": "no", "refused": False}])
def test_a_customer_who_objected_gets_nothing(sms_rt, consent: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    rt, tw = sms_rt
    cid = add_call(rt)
    analysed(rt, cid, consent)
    (m,) = messages(rt)
    assert m.status == "refused" and "customer" in m.error
    assert sms.deliver_queued(rt) == 0 and tw.sent == []


def test_stop_opts_out_and_start_opts_back_in(sms_rt) -> None:  # type: ignore[no-untyped-def]
    rt, tw = sms_rt
    with rt.db.session() as s:
        assert sms.inbound(s, "+819012345678", " STOP ") == "opt_out"
    cid = add_call(rt)
    analysed(rt, cid)
    (m,) = messages(rt)
    assert m.status == "refused" and "opted out" in m.error
    with rt.db.session() as s:
        assert sms.inbound(s, "+819012345678", "START") == "opt_in"
        assert sms.inbound(s, "+819012345678", "hello") is None
        call = s.get(Call, cid)
        m2 = sms.prepare(s, rt.settings, call, trigger="agent", actor="agent@example.com")
        assert m2.status == "queued"
    sms.deliver_queued(rt)
    assert len(tw.sent) == 1


def test_twilio_errors_are_stored_with_their_code(sms_rt) -> None:  # type: ignore[no-untyped-def]
    rt, tw = sms_rt
    cid = add_call(rt, number="+14155550100")  # the fake refuses non-JP numbers as 21211
    with rt.db.session() as s:
        mid = sms.prepare(s, rt.settings, s.get(Call, cid), trigger="agent", actor="a").id
    m = sms.deliver(rt, mid)
    assert m.status == "failed" and "21211" in m.error and "HTTP 400" in m.error
    object.__setattr__(rt.settings, "twilio_auth_token", "wrong")
    with rt.db.session() as s:
        mid = sms.prepare(s, rt.settings, s.get(Call, add_call(rt)), trigger="agent",
                          actor="a").id
    m = sms.deliver(rt, mid)
    assert m.status == "failed" and "20003" in m.error and "Authenticate" in m.error


def test_a_call_without_a_usable_number_is_refused(sms_rt) -> None:  # type: ignore[no-untyped-def]
    rt, _ = sms_rt
    with rt.db.session() as s:
        m = sms.prepare(s, rt.settings, s.get(Call, add_call(rt, number="非通知")),
                        trigger="agent", actor="a")
        assert m.status == "refused" and "not a phone number" in m.error


def test_the_generic_gateway_gets_json(rt, httpserver: HTTPServer) -> None:  # type: ignore[no-untyped-def]
    got: list[Any] = []

    def handle(req: Request) -> Response:
        if req.headers.get("Authorization") != "Bearer gw":
            return Response("unauthorized", 401)
        got.append(req.get_json())
        return Response(json.dumps({"id": "gw-1", "status": "accepted"}), 202,
                        content_type="application/json")

    httpserver.expect_request("/sms", method="POST").respond_with_handler(handle)
    for k, v in {"sms_provider": "http", "sms_http_url": httpserver.url_for("/sms"),
                 "sms_http_token": "gw", "sms_from": "ROKUON"}.items():
        object.__setattr__(rt.settings, k, v)
    with rt.db.session() as s:
        mid = sms.prepare(s, rt.settings, s.get(Call, add_call(rt)), trigger="agent",
                          actor="a").id
    m = sms.deliver(rt, mid)
    assert (m.status, m.provider_id) == ("accepted", "gw-1")
    assert got[0]["to"] == "+819012345678" and got[0]["reference"] == f"rokuon-sms-{mid}"
    object.__setattr__(rt.settings, "sms_http_token", "bad")
    with rt.db.session() as s:
        mid = sms.prepare(s, rt.settings, s.get(Call, add_call(rt)), trigger="agent",
                          actor="a").id
    m = sms.deliver(rt, mid)
    assert m.status == "failed" and "HTTP 401" in m.error


def test_erasing_the_call_blanks_its_messages(sms_rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.access.principal import Principal
    from rokuon.calls.erase import erase_call

    rt, _ = sms_rt
    cid = add_call(rt)
    analysed(rt, cid, {"answer": "yes", "refused": False})
    assert sms.deliver_queued(rt) == 1
    erase_call(rt, Principal(name="co@example.com", role="compliance"), cid,
               reason="erasure request")
    (m,) = messages(rt)  # the record that a message was sent stays …
    assert (m.call_id, m.status) == (cid, "queued")
    assert (m.to_number, m.body) == ("", "")  # … the number and the text do not
