"""Twilio's recording status callback: signature checked with Twilio's own validator,
the recording downloaded with the account's credentials from the configured API base
(a local server speaking the media URL format), metadata mapped, duplicates kept out."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

from rokuon.store.models import Call
from rokuon.web.app import create_app
from tests.helpers import tone_wav

SID, TOKEN = "AC" + "a" * 32, "rec-auth-token"
RE = "RE" + "b" * 32


@pytest.fixture
def hook(rt, httpserver: HTTPServer):  # type: ignore[no-untyped-def]
    for k, v in {"twilio_account_sid": SID, "twilio_auth_token": TOKEN,
                 "twilio_api_base_url": httpserver.url_for("").rstrip("/")}.items():
        object.__setattr__(rt.settings, k, v)
    wav = tone_wav(1.0, seed=77)
    seen: list[str] = []

    def media(req: Request) -> Response:
        seen.append(req.full_path)
        good = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if req.headers.get("Authorization") != good:
            return Response(json.dumps({"code": 20003, "message": "Authenticate",
                                        "more_info": "https://www.twilio.com/docs/errors/20003",
                                        "status": 401}), 401, content_type="application/json")
        return Response(wav, 200, content_type="audio/x-wav")

    httpserver.expect_request(f"/2010-04-01/Accounts/{SID}/Recordings/{RE}.wav"
                              ).respond_with_handler(media)
    with TestClient(create_app(rt, start_workers=False)) as c:
        yield rt, c, seen


def params(**over: str) -> dict[str, str]:
    p = {"AccountSid": SID, "CallSid": "CA" + "c" * 32, "RecordingSid": RE,
         "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Recordings/{RE}",
         "RecordingStatus": "completed", "RecordingDuration": "1", "RecordingChannels": "2",
         "RecordingStartTime": "Tue, 08 Dec 2026 03:00:00 +0000",
         "RecordingSource": "DialVerb", "RecordingTrack": "both"}
    p.update(over)
    return p


def post(c: TestClient, p: dict[str, str], query: dict[str, str], *, token: str = TOKEN):  # type: ignore[no-untyped-def]
    path = "/api/twilio/recordings" + ("?" + urlencode(query) if query else "")
    signed = "https://rokuon.example.jp" + path  # what Twilio called (public_url)
    sig = RequestValidator(token).compute_signature(signed, p)
    return c.post(path, data=p, headers={"X-Twilio-Signature": sig})


def test_a_completed_recording_becomes_a_call_once(hook) -> None:  # type: ignore[no-untyped-def]
    rt, c, seen = hook
    q = {"agent": "sato", "queue": "support", "direction": "inbound",
         "customer": "+819012345678"}
    r = post(c, params(), q)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == "stored"
    assert seen == [f"/2010-04-01/Accounts/{SID}/Recordings/{RE}.wav?RequestedChannels=2"]
    with rt.db.session() as s:
        call = s.get(Call, doc["call_id"])
        assert (call.agent, call.queue, call.direction, call.customer_number) == (
            "sato", "support", "inbound", "+819012345678")
        assert call.external_id == f"twilio:{RE}" and call.source == "twilio"
        assert call.started_at.isoformat().startswith("2026-12-08T03:00:00")
        assert call.extra_metadata["twilio_call_sid"] == "CA" + "c" * 32
    again = post(c, params(), q)
    assert again.json() == {"status": "duplicate", "call_id": doc["call_id"]}


def test_forged_foreign_and_unfinished_callbacks_store_nothing(hook) -> None:  # type: ignore[no-untyped-def]
    rt, c, seen = hook
    assert post(c, params(), {}, token="not-the-token").status_code == 403
    other = "AC" + "d" * 32
    r = post(c, params(AccountSid=other, RecordingUrl=f"https://evil.example/2010-04-01/"
                       f"Accounts/{other}/Recordings/{RE}"), {})
    assert r.status_code == 403 and "another Twilio account" in r.json()["error"]
    r = post(c, params(RecordingUrl="https://evil.example/steal"), {})
    assert r.status_code == 400 and "RecordingUrl" in r.json()["error"]
    r = post(c, params(RecordingStatus="absent"), {})
    assert r.json()["status"] == "ignored"
    object.__setattr__(rt.settings, "twilio_auth_token", "changed")
    r = post(c, params(), {}, token="changed")  # signed right, but Twilio refuses the download
    assert r.status_code == 502 and "HTTP 401" in r.json()["error"]
    with rt.db.session() as s:
        assert s.query(Call).count() == 0
    assert all("evil" not in p for p in seen)
