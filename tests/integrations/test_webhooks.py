"""Standard Webhooks deliveries to real local receivers: exact signatures, retries,
a hanging receiver, dead letters, the transactional outbox, the SSRF guard."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from rokuon.integrations import webhooks
from rokuon.integrations.delivery import post
from rokuon.store.models import WebhookDelivery
from tests.integrations.conftest import SECRET, Received, Receiver


def own_verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """The spec, implemented here independently of the code under test: HMAC-SHA256 with
    the base64-decoded secret over "id.timestamp.body", base64, among the space-separated
    "v1,<sig>" entries; the timestamp within 5 minutes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(time.time() - int(ts)) < 300
    want = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                     hashlib.sha256).digest()).decode()
    got = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    assert any(v == "v1" and hmac.compare_digest(sig, want) for v, sig in got), got


def add(rt, url: str, events: list[str], secret: str | None = SECRET,  # type: ignore[no-untyped-def]
        kind: str = "standard") -> str:
    with rt.db.session() as s:
        return webhooks.add_endpoint(s, rt.keys, url, events, secret=secret, kind=kind,
                                     allow_private=True).id


def deliveries(rt, **where: str) -> list[WebhookDelivery]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        q = select(WebhookDelivery).order_by(WebhookDelivery.id)
        for k, v in where.items():
            q = q.where(getattr(WebhookDelivery, k) == v)
        return list(s.scalars(q))


def wait_status(rt, status: str, n: int = 1, timeout: float = 10.0,  # type: ignore[no-untyped-def]
                **where: str) -> list[WebhookDelivery]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = [d for d in deliveries(rt, **where) if d.status == status]
        if len(rows) >= n:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"not {n} {status}: {[(d.status, d.last_error) for d in deliveries(rt)]}")


def test_a_signed_event_verifies_as_the_spec_says(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    wid = add(rt, rec.url, ["alert.raised", "call.analyzed"])
    with rt.db.session() as s:
        webhooks.emit(s, "call.ended", {"call_id": "c1"})  # not subscribed: nothing
        rows = webhooks.emit(s, "call.analyzed", {"call_id": "c1", "qa_score": 80.0,
                                                  "duration_s": 12.5, "complaint": False,
                                                  "summary": None})
        assert len(rows) == 1
    worker()
    req = rec.wait_for(1)[0]
    Webhook(SECRET).verify(req.body, req.headers)  # the standardwebhooks package
    own_verify(SECRET, req.headers, req.body)  # and an independent implementation
    assert req.headers["content-type"] == "application/json"
    doc = json.loads(req.body)
    assert doc["type"] == "call.analyzed" and doc["data"]["call_id"] == "c1"
    assert doc["timestamp"].endswith("Z") and "T" in doc["timestamp"]
    (d,) = wait_status(rt, "delivered")
    assert d.endpoint_id == wid and d.event_id == req.headers["webhook-id"]
    assert d.attempts == 1 and d.response_code == 200 and d.delivered_at is not None
    assert [x.event_type for x in deliveries(rt)] == ["call.analyzed"]
    with pytest.raises(Exception, match="verification|signature|No matching"):
        Webhook("whsec_" + base64.b64encode(b"another secret of 24 byt").decode()
                ).verify(req.body, req.headers)


def test_500_then_200_is_retried_with_the_same_id(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    answers = iter([(500, b"boom", 0.0), (200, b"ok", 0.0)])
    rec = receivers(lambda _r: next(answers))
    add(rt, rec.url, ["alert.raised"])
    with rt.db.session() as s:
        webhooks.emit(s, "alert.raised", {"call_id": "c2", "rule": "r", "kind": "custom",
                                          "speaker": None, "start": 0, "end": 1,
                                          "text": "", "score": None})
    worker()
    first, second = rec.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    for r in (first, second):
        Webhook(SECRET).verify(r.body, r.headers)
    assert second.at - first.at >= 0.09  # the first backoff step
    (d,) = wait_status(rt, "delivered")
    assert d.attempts == 2 and d.response_code == 200


def test_a_hanging_receiver_does_not_delay_others_then_goes_dead(  # type: ignore[no-untyped-def]
        rt, receivers, worker) -> None:
    hang = receivers(lambda _r: (200, b"late", 3.0))  # answers after the 1 s timeout
    fast = receivers()
    slow_id = add(rt, hang.url, ["call.ended"])
    fast_id = add(rt, fast.url, ["call.ended"])
    with rt.db.session() as s:
        webhooks.emit(s, "call.ended", {"call_id": "c3"})
    worker(timeout_s=1.0)
    hang.wait_for(1, timeout=5)
    fast.wait_for(1, timeout=5)
    # the fast endpoint got its event while the first attempt to the other still hung
    assert fast.requests[0].at < hang.requests[0].at + 1.0
    wait_status(rt, "delivered", endpoint_id=fast_id)
    (dead,) = wait_status(rt, "dead", endpoint_id=slow_id, timeout=15)
    assert dead.attempts == 3 and "timed out" in (dead.last_error or "")
    assert len(hang.requests) == 3
    with rt.db.session() as s:
        listed = webhooks.list_deliveries(s, status="dead")
        assert [d.id for d in listed] == [dead.id]
        webhooks.retry_delivery(s, dead.id)  # sent again: a fresh series of attempts
    hang.respond = lambda _r: (204, b"", 0.0)
    (again,) = wait_status(rt, "delivered", endpoint_id=slow_id)
    assert again.attempts == 1 and again.response_code == 204


def test_the_outbox_is_written_with_the_transaction(rt, receivers) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    add(rt, rec.url, ["call.started"])
    with pytest.raises(RuntimeError), rt.db.session() as s:
        webhooks.emit(s, "call.started", {"call_id": "c4"})
        raise RuntimeError("the thing that caused the event failed")
    assert deliveries(rt) == []
    with pytest.raises(ValueError, match="unknown event type"), rt.db.session() as s:
        webhooks.emit(s, "call.exploded", {})


def test_a_removed_or_disabled_endpoint_gets_nothing(rt, receivers, worker) -> None:  # type: ignore[no-untyped-def]
    rec = receivers()
    wid = add(rt, rec.url, ["call.started"])
    with rt.db.session() as s:
        webhooks.emit(s, "call.started", {"call_id": "c5"})
        assert webhooks.remove_endpoint(s, wid)
        assert webhooks.emit(s, "call.started", {"call_id": "c5"}) == []
    assert deliveries(rt) == []
    worker()
    time.sleep(0.3)
    assert rec.requests == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
    "http://[::ffff:192.168.0.1]/x", "http://0.0.0.0/x"])
def test_the_ssrf_guard_refuses_private_addresses(url: str) -> None:
    with pytest.raises(webhooks.UnsafeURLError, match="refused|resolve"):
        webhooks.check_url(url, allow_private=False)
    assert webhooks.check_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd",
                                 "javascript:alert(1)", "https:///nohost", "not a url"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(webhooks.UnsafeURLError):
        webhooks.check_url(url, allow_private=True)


def test_the_guard_also_holds_at_delivery(receivers: Callable[..., Receiver]) -> None:
    rec = receivers()
    out = post(rec.url, b"{}", {}, kind="standard", timeout=1, allow_private=False)
    assert not out.ok and "refused" in (out.error or "") and rec.requests == []


def test_redirects_are_not_followed(receivers: Callable[..., Receiver]) -> None:
    target = receivers()

    def redirect(_r: Received) -> tuple[int, bytes, float]:
        return 307, b"", 0.0

    rec = receivers(redirect)
    rec.location = target.url
    out = post(rec.url, b"{}", {}, kind="standard", timeout=1, allow_private=True)
    assert not out.ok and out.code == 307 and target.requests == []


@pytest.mark.parametrize(("secret", "message"), [
    ("abc", "must start with 'whsec_'"), ("whsec_!!!", "not base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "16-64 bytes"), ("", "whsec_")])
def test_bad_secrets_are_refused_and_nothing_is_stored(rt, secret: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(webhooks.WebhookError, match=message), rt.db.session() as s:
        webhooks.add_endpoint(s, rt.keys, "http://127.0.0.1:9/x", ["alert.raised"],
                              secret=secret, allow_private=True)
    with rt.db.session() as s:
        assert webhooks.list_endpoints(s) == []


def test_the_secret_is_encrypted_at_rest(rt) -> None:  # type: ignore[no-untyped-def]
    wid = add(rt, "http://127.0.0.1:9/x", ["alert.raised"])
    raw_key = base64.b64decode(SECRET.removeprefix("whsec_"))
    with rt.db.session() as s:
        from rokuon.store.models import WebhookEndpoint

        ep = s.get(WebhookEndpoint, wid)
        assert ep is not None and ep.wrapped_secret
        assert SECRET.removeprefix("whsec_") not in ep.wrapped_secret
        assert base64.b64encode(raw_key).decode() not in ep.wrapped_secret
        assert webhooks.endpoint_key(ep, rt.keys) == raw_key


def test_unknown_events_list_the_known_ones() -> None:
    with pytest.raises(webhooks.WebhookError) as e:
        webhooks.check_events(["alert.raised", "call.finished"])
    assert "call.finished" in str(e.value)
    assert all(name in str(e.value) for name in webhooks.EVENT_TYPES)
    assert webhooks.check_events(["alert.raised,call.ended", "alert.raised"]) == [
        "alert.raised", "call.ended"]
