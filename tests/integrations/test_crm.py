"""CRM activities through the outbox against local servers speaking Salesforce's,
HubSpot's and kintone's REST formats: create, upsert on retry and re-analysis, expired
sessions, 429 with Retry-After, unknown fields, a timeout after the write."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from rokuon.integrations.crm import config as crm_config
from rokuon.integrations.crm import outbox, salesforce
from rokuon.integrations.crm.errors import CrmConfigError
from rokuon.integrations.webhooks import emit_call_analyzed
from rokuon.store.models import Call
from rokuon.store.models_integrations import CrmDelivery
from tests.integrations.crm_fakes import FakeHubSpot, FakeKintone, FakeSalesforce, tls_context

RESULTS: dict[str, tuple[int, Any]] = {
    "qa": (1, {"score": 82.5}),
    "complaint": (1, {"detected": True, "flags": ["complaint"]}),
    "churn": (1, {"flags": ["churn_risk"]}),
    "summary": (1, {"text": "解約の相談。来週折り返し。"}),
}


@pytest.fixture
def sf_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    ctx, ca = tls_context(tmp_path)
    srv = HTTPServer(host="127.0.0.1", ssl_context=ctx, threaded=True)
    srv.start()
    yield srv, ca
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def crms(rt, sf_server, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    srv, ca = sf_server
    sf, hs, kt = FakeSalesforce(srv), FakeHubSpot(httpserver), FakeKintone(httpserver)
    monkeypatch.setenv("T_SF", sf.token)
    monkeypatch.setenv("T_HS", hs.token)
    monkeypatch.setenv("T_KT", kt.token)
    base = httpserver.url_for("").rstrip("/")

    def write(**over: Any) -> None:
        targets = [
            {"name": "sf", "kind": "salesforce", "base_url": srv.url_for("").rstrip("/"),
             "token_env": "T_SF", "ca_file": ca,
             "fields": {"Description": "{summary}\nQA: {qa_score}\n{flags}\n{call_url}"}},
            {"name": "hs", "kind": "hubspot", "base_url": base, "token_env": "T_HS",
             "fields": {"hs_call_body": "{summary}<br>QA {qa_score}<br>{call_url}"}},
            {"name": "kt", "kind": "kintone", "base_url": base, "token_env": "T_KT",
             "app": 5, "fields": {"summary": "{summary}", "qa": "{qa_score}",
                                  "call_url": "{call_url}", "agent": "{agent}"}}]
        for t in targets:
            t.update(over.get(t["name"], {}))
        (Path(rt.settings.home) / "crm.yaml").write_text(
            yaml.safe_dump({"targets": targets}, allow_unicode=True), encoding="utf-8")

    write()
    return sf, hs, kt, write


def add_call(rt, number: str | None = "+819012345678") -> str:  # type: ignore[no-untyped-def]
    cid = uuid.uuid4().hex
    with rt.db.session() as s:
        s.add(Call(id=cid, content_sha256=uuid.uuid4().hex * 2, status="indexed",
                   started_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC), duration_s=125.5,
                   direction="inbound", agent="sato", customer_number=number,
                   queue="support", container="wav", codec="pcm_s16le", sample_rate=8000,
                   channels=2, blob_key="k", blob_size=1, qa_score=82.5))
    return cid


def analysed(rt, cid: str, results: dict[str, tuple[int, Any]] = RESULTS) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        emit_call_analyzed(s, s.get(Call, cid), results)


def rows(rt) -> dict[str, CrmDelivery]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return {d.target: d for d in s.scalars(select(CrmDelivery))}


def due_now(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        for d in s.scalars(select(CrmDelivery)):
            d.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)


def test_an_analysed_call_becomes_one_activity_in_each_crm(rt, crms) -> None:  # type: ignore[no-untyped-def]
    sf, hs, kt, _ = crms
    cid = add_call(rt)
    analysed(rt, cid)
    assert {t: d.status for t, d in rows(rt).items()} == {"sf": "pending", "hs": "pending",
                                                          "kt": "pending"}
    assert outbox.deliver_due(rt) == 3
    got = rows(rt)
    assert {d.status for d in got.values()} == {"delivered"}, [d.last_error for d in got.values()]
    (task,) = sf.tasks.values()
    assert task["CallObject"] == cid and task["WhoId"] == "003000000000001AAA"
    assert task["TaskSubtype"] == "Call" and task["CallType"] == "Inbound"
    assert task["CallDurationInSeconds"] == 126 and task["ActivityDate"] == "2026-12-01"
    assert "解約の相談" in task["Description"] and "QA: 82.5" in task["Description"]
    assert "complaint, churn_risk" in task["Description"]
    assert f"https://rokuon.example.jp/calls/{cid}" in task["Description"]
    assert got["sf"].external_id in sf.tasks
    (call,) = hs.calls.values()
    assert call["rokuon_call_id"] == cid and call["hs_call_duration"] == "125500"
    assert call["hs_call_direction"] == "INBOUND" and "QA 82.5" in call["hs_call_body"]
    assert "hs_call_recording_url" not in call  # never the audio unless configured
    (assoc,) = hs.associations[got["hs"].external_id]
    assert assoc["to"]["id"] == "501" and assoc["types"][0]["associationTypeId"] == 194
    (rec,) = kt.records.values()
    assert rec["rokuon_call_id"]["value"] == cid and rec["agent"]["value"] == "sato"
    assert rec["summary"]["value"] == "解約の相談。来週折り返し。"

    # analysed again (a new scorecard): the same activities are updated, none is added
    analysed(rt, cid, {**RESULTS, "qa": (2, {"score": 90.0})})
    with rt.db.session() as s:
        s.get(Call, cid).qa_score = 90.0
    analysed(rt, cid, {**RESULTS, "qa": (2, {"score": 90.0})})
    assert outbox.deliver_due(rt) == 3
    assert len(sf.tasks) == len(hs.calls) == len(kt.records) == 1
    assert "QA: 90" in next(iter(sf.tasks.values()))["Description"]
    assert kt.records["1"]["qa"]["value"] == "90"


def test_a_timeout_after_the_write_does_not_make_a_second_activity(  # type: ignore[no-untyped-def]
        rt, crms, monkeypatch: pytest.MonkeyPatch) -> None:
    sf, hs, _kt, _ = crms
    monkeypatch.setattr(salesforce, "TIMEOUT_S", 0.3)
    from rokuon.integrations.crm import hubspot

    monkeypatch.setattr(hubspot, "TIMEOUT_S", 0.3)
    sf.script.queue = [None, None, "slow"]  # task query, contact query, create (stored)
    hs.script.queue = [None, None, "slow"]  # call search, contact search, create (stored)
    cid = add_call(rt)
    analysed(rt, cid)
    outbox.deliver_due(rt, backoff_s=(30.0, 30.0))
    got = rows(rt)
    assert got["sf"].status == got["hs"].status == "pending"
    assert "timed out" in got["sf"].last_error.lower() or "Timeout" in got["sf"].last_error
    assert len(sf.tasks) == 1 and len(hs.calls) == 1  # the CRM did store it
    due_now(rt)
    outbox.deliver_due(rt, backoff_s=(30.0, 30.0))
    got = rows(rt)
    assert got["sf"].status == got["hs"].status == "delivered"
    assert len(sf.tasks) == 1 and len(hs.calls) == 1  # found by the call id: updated
    assert got["sf"].attempts == 2


def test_an_expired_salesforce_session_is_named_and_renewed_with_client_credentials(  # type: ignore[no-untyped-def]
        rt, crms, monkeypatch: pytest.MonkeyPatch) -> None:
    sf, _hs, _kt, write = crms
    monkeypatch.setenv("T_SF", "00Dexpired")
    cid = add_call(rt)
    analysed(rt, cid)
    outbox.deliver_due(rt)
    d = rows(rt)["sf"]
    assert d.status == "pending" and d.response_code == 401
    assert "INVALID_SESSION_ID" in d.last_error and "T_SF" in d.last_error
    assert not sf.tasks
    monkeypatch.setenv("SF_ID", "3MVG9id")
    monkeypatch.setenv("SF_SECRET", sf.client_secret)
    write(sf={"client_id_env": "SF_ID", "client_secret_env": "SF_SECRET"})
    with rt.db.session() as s:
        outbox.retry(s, d.id)
    outbox.deliver_due(rt)
    assert rows(rt)["sf"].status == "delivered" and len(sf.tasks) == 1


def test_429_waits_as_long_as_retry_after_says(rt, crms) -> None:  # type: ignore[no-untyped-def]
    sf, hs, kt, _ = crms
    hs.script.queue = [(429, {"status": "error", "message": "You have reached your "
                              "ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
                              "correlationId": "c0ffee", "policyName": "TEN_SECONDLY_ROLLING"},
                        {"Retry-After": "7"})]
    sf.script.queue = [(429, [{"message": "Too many requests", "errorCode":
                               "REQUEST_LIMIT_EXCEEDED"}], {"Retry-After": "42"})]
    cid = add_call(rt)
    analysed(rt, cid)
    before = datetime.now(UTC)
    outbox.deliver_due(rt, backoff_s=(0.0, 0.0))
    got = rows(rt)
    for name, secs in (("hs", 7), ("sf", 42)):
        d = got[name]
        assert d.status == "pending" and d.response_code == 429 and d.attempts == 1
        wait = (d.next_attempt_at - before).total_seconds()
        assert secs - 1 <= wait <= secs + 5, (name, wait)
    assert "RATE_LIMIT" not in got["hs"].last_error or "limit" in got["hs"].last_error
    assert got["kt"].status == "delivered"
    assert outbox.deliver_due(rt) == 0  # not due yet
    due_now(rt)
    outbox.deliver_due(rt)
    assert {d.status for d in rows(rt).values()} == {"delivered"}
    assert len(hs.calls) == len(sf.tasks) == 1


def test_a_mapping_to_a_field_that_does_not_exist_is_dead_with_the_crms_words(  # type: ignore[no-untyped-def]
        rt, crms) -> None:
    sf, hs, kt, write = crms
    write(sf={"fields": {"Foo__c": "{summary}"}}, hs={"fields": {"foo": "{qa_score}"}},
          kt={"fields": {"nope": "{agent}"}})
    cid = add_call(rt)
    analysed(rt, cid)
    outbox.deliver_due(rt)
    got = rows(rt)
    assert {d.status for d in got.values()} == {"dead"}  # retrying cannot help
    assert "INVALID_FIELD" in got["sf"].last_error and "Foo__c" in got["sf"].last_error
    assert 'Property \\"foo\\" does not exist' in got["hs"].last_error \
        or 'Property "foo" does not exist' in got["hs"].last_error
    assert "'nope'" in got["kt"].last_error and got["kt"].response_code == 400
    assert not sf.tasks and not hs.calls and not kt.records  # nothing half-written
    write()  # the mapping is fixed: a retry sends it
    with rt.db.session() as s:
        for d in got.values():
            outbox.retry(s, d.id)
    outbox.deliver_due(rt)
    assert {d.status for d in rows(rt).values()} == {"delivered"}


def test_wrong_credentials_are_named(rt, crms, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("T_HS", "pat-wrong")
    monkeypatch.setenv("T_KT", "wrong")
    monkeypatch.delenv("T_SF")
    cid = add_call(rt)
    analysed(rt, cid)
    outbox.deliver_due(rt)
    got = rows(rt)
    assert "INVALID_AUTHENTICATION" in got["hs"].last_error and got["hs"].status == "dead"
    assert "GAIA_IA02" in got["kt"].last_error and got["kt"].status == "dead"
    assert "T_SF" in got["sf"].last_error and got["sf"].status == "dead"


def test_a_stopped_call_sends_nothing_and_no_config_means_no_rows(rt, crms) -> None:  # type: ignore[no-untyped-def]
    cid = add_call(rt)
    with rt.db.session() as s:
        s.get(Call, cid).use_stopped_at = datetime.now(UTC)
    analysed(rt, cid)
    assert rows(rt) == {}
    (Path(rt.settings.home) / "crm.yaml").unlink()
    cid2 = add_call(rt, number=None)
    analysed(rt, cid2)
    assert rows(rt) == {}


@pytest.mark.parametrize(("doc", "words"), [
    ({"targets": [{"name": "x", "kind": "zoho", "base_url": "https://a"}]}, "kind"),
    ({"targets": [{"name": "x", "kind": "hubspot", "fields": {"a": "{sumary}"}}]},
     "{sumary}"),
    ({"targets": [{"name": "x", "kind": "kintone", "base_url": "https://a"}]}, "'app'"),
    ({"targets": [{"name": "x", "kind": "hubspot", "tokn_env": "A"}]}, "tokn_env"),
    ({"targets": "sf"}, "'targets' list"),
])
def test_crm_yaml_errors_name_the_key(doc: Any, words: str) -> None:
    with pytest.raises(CrmConfigError, match=None) as exc:
        crm_config.parse(json.loads(json.dumps(doc)))
    assert words in str(exc.value)


def test_the_servers_delivery_worker_sends_the_crm_outbox(rt, crms, worker) -> None:  # type: ignore[no-untyped-def]
    import time

    sf, hs, kt, _ = crms
    worker()
    cid = add_call(rt)
    analysed(rt, cid)
    end = time.monotonic() + 15
    while time.monotonic() < end and {d.status for d in rows(rt).values()} != {"delivered"}:
        time.sleep(0.05)
    assert {d.status for d in rows(rt).values()} == {"delivered"}
    assert len(sf.tasks) == len(hs.calls) == len(kt.records) == 1
