"""REST API and UI routes: auth, CSRF, listing, search, upload, audio with Range."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote

import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rokuon.store.models import AuditEntry, Call
from tests.conftest import corpus_calls
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import NEW_PASSWORD, csrf_from, enrol_mfa


def upload(c: TestClient, data: bytes, name: str = "x.wav", **headers: str):  # type: ignore[no-untyped-def]
    h = {"X-CSRF-Token": c.csrf, **headers}  # type: ignore[attr-defined]
    return c.post(f"/api/calls?filename={name}", content=data, headers=h)


def test_sign_in_required(client: TestClient) -> None:
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls").json() == {"error": "sign-in required"}
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/login").status_code == 200


def test_wrong_password_is_refused_and_audited(client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    res, rt = installation
    r = client.post("/login", data={"email": res.admin_email, "password": "nope"})
    assert r.status_code == 401 and "rokuon_session" not in r.cookies
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.login", AuditEntry.outcome == "failed")) == 1


def test_must_change_password_first(client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    res, _ = installation
    client.post("/login", data={"email": res.admin_email, "password": res.admin_password})
    assert client.get("/").headers["location"] == "/password"
    assert client.get("/api/calls").status_code == 403
    page = client.get("/password")
    cur = res.admin_password
    r = client.post("/password", data={"current_password": cur, "new_password": "short",
                                       "csrf": csrf_from(page.text)})
    assert r.status_code == 400
    # without the CSRF token the change is refused
    assert client.post("/password", data={"current_password": cur,
                                          "new_password": NEW_PASSWORD}).status_code == 403
    r = client.post("/password", data={"current_password": cur,
                                       "new_password": "password1234",
                                       "csrf": csrf_from(page.text)})
    assert r.status_code == 400 and "common or breached" in r.text
    old_cookie = client.cookies.get("rokuon_session")
    r = client.post("/password", data={"current_password": cur, "new_password": NEW_PASSWORD,
                                       "csrf": csrf_from(page.text)})
    assert r.status_code == 303
    assert client.cookies.get("rokuon_session") != old_cookie  # session id rotated
    # an admin must enrol MFA before anything else
    assert client.get("/").headers["location"] == "/mfa/setup"
    assert client.get("/api/calls").status_code == 403
    secret, codes = enrol_mfa(client)
    assert client.get("/api/calls").status_code == 200
    client.cookies.clear()
    r = client.post("/login", data={"email": res.admin_email, "password": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/mfa"
    assert client.get("/api/calls").status_code == 403  # password alone is not enough
    page = client.get("/mfa")
    r = client.post("/mfa", data={"code": "000000", "csrf": csrf_from(page.text)})
    assert r.status_code == 401
    r = client.post("/mfa", data={"code": codes[0], "csrf": csrf_from(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/api/calls").status_code == 200
    # a recovery code works once
    client.cookies.clear()
    client.post("/login", data={"email": res.admin_email, "password": NEW_PASSWORD})
    page = client.get("/mfa")
    r = client.post("/mfa", data={"code": codes[0], "csrf": csrf_from(page.text)})
    assert r.status_code == 401


def test_security_headers(signed_in: TestClient) -> None:
    r = signed_in.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    cookie = signed_in.cookies.jar
    assert any(c.name == "rokuon_session" and c.has_nonstandard_attr("HttpOnly")
               for c in cookie)


def test_upload_list_show_search_audio(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    meta = json.dumps({"agent": "佐藤", "direction": "inbound",
                       "started_at": "2026-11-20T10:00:00+09:00"}, ensure_ascii=False)
    r = upload(c, tone_wav(2.0, seed=61), "a call.wav", **{"X-Rokuon-Metadata": quote(meta)})
    assert r.status_code == 201, r.text
    call_id = r.json()["call_id"]
    assert r.json()["status"] == "stored"
    # same bytes again: a duplicate, not a second call
    r = upload(c, tone_wav(2.0, seed=61), "copy.wav")
    assert r.status_code == 200 and r.json()["duplicate_of"] == call_id
    write_transcript(rt, call_id, [("agent", 0.1, 0.9, "お電話ありがとうございます"),
                                   ("customer", 1.0, 1.9, "解約について聞きたいです")])

    calls = c.get("/api/calls").json()["calls"]
    assert [x["call_id"] for x in calls] == [call_id] and calls[0]["agent"] == "佐藤"
    assert c.get("/api/calls?direction=outbound").json()["calls"] == []
    assert c.get("/api/calls?direction=sideways").status_code == 422
    doc = c.get(f"/api/calls/{call_id}").json()
    assert [s["speaker"] for s in doc["segments"]] == ["agent", "customer"]
    hits = c.get("/api/search", params={"q": "解約"}).json()["hits"]
    assert [(h["call_id"], h["start"]) for h in hits] == [(call_id, 1.0)]
    assert c.get("/api/calls/0123456789abcdef").status_code == 404

    page = c.get("/?q=解約")
    assert page.status_code == 200 and f"/calls/{call_id}?t=1.0" in page.text
    page = c.get(f"/calls/{call_id}")
    assert "解約について聞きたいです" in page.text and 'data-start="1.0"' in page.text
    assert c.get("/?lang=en").text.count("Calls") >= 1

    assert c.get(f"/api/calls/{call_id}/audio").status_code == 403  # no purpose stated
    assert c.get(f"/api/calls/{call_id}/audio?purpose=marketing").status_code == 403
    audio_url = f"/api/calls/{call_id}/audio?purpose=quality"
    full = c.get(audio_url)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == "no-store"
    data, sr = sf.read(io.BytesIO(full.content))
    assert sr == 8000 and data.shape[1] == 2 and abs(len(data) / sr - 2.0) < 0.05  # as recorded
    part = c.get(audio_url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    tail = c.get(audio_url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == full.content[-10:]
    bad = c.get(audio_url, headers={"Range": f"bytes={len(full.content) + 5}-"})
    assert bad.status_code == 416
    with rt.db.session() as s:
        plays = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "call.play", AuditEntry.object_id == call_id)).all()
    assert [p.outcome for p in plays][:2] == ["denied", "denied"]
    assert any(p.outcome == "ok" and p.purpose == "quality" for p in plays)


def test_upload_rejections_leave_nothing(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    r = upload(c, b"")
    assert r.status_code == 400 and "empty file" in r.json()["error"]
    r = upload(c, "音声ではない".encode() * 100, "fake.wav")
    assert r.status_code == 400 and "fake.wav" in r.json()["error"]
    assert "not a recognised audio file" in r.json()["error"]
    r = upload(c, tone_wav(1.0, seed=62), "m.wav", **{"X-Rokuon-Metadata": '{"agent": 5}'})
    assert r.status_code == 422 and "'agent'" in r.json()["error"]
    r = upload(c, tone_wav(1.0, seed=62), "m.wav", **{"X-Rokuon-Metadata": "{oops"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]
    rt.settings.max_upload_bytes = 5000
    r = upload(c, tone_wav(2.0, seed=63), "big.wav")
    assert r.status_code == 413
    # no CSRF header: refused even though the session cookie is valid
    r = c.post("/api/calls?filename=x.wav", content=tone_wav(1.0, seed=64))
    assert r.status_code == 403
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0
    assert list(rt.blobs.keys()) == []


def test_logout_needs_csrf_and_ends_session(signed_in: TestClient) -> None:
    c = signed_in
    assert c.post("/logout", data={}).status_code == 403
    r = c.post("/logout", data={"csrf": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    assert c.get("/api/calls").status_code == 401


def test_operator_cannot_see_other_calls(client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    from rokuon.access.principal import Principal
    from rokuon.users.service import create_user, set_password

    res, rt = installation
    with rt.db.session() as s:
        user, _ = create_user(s, Principal.cli(), "suzuki@example.com", "operator", "A")
        set_password(s, user, NEW_PASSWORD)
    from rokuon.calls.ingest import ingest_stream
    from rokuon.calls.metadata import parse_metadata

    own = ingest_stream(rt, [tone_wav(1.0, seed=65)], name="own.wav", actor=Principal.cli(),
                        meta=parse_metadata('{"agent": "suzuki"}')).call_id
    other = ingest_stream(rt, [tone_wav(1.0, seed=66)], name="other.wav",
                          actor=Principal.cli(), meta=parse_metadata('{"agent": "sato"}')
                          ).call_id
    client.post("/login", data={"email": "suzuki@example.com", "password": NEW_PASSWORD})
    assert [x["call_id"] for x in client.get("/api/calls").json()["calls"]] == [own]
    assert client.get(f"/api/calls/{other}").status_code == 404  # same as unknown
    assert client.get(f"/api/calls/{other}/audio?purpose=quality").status_code == 404
    assert client.get(f"/api/calls/{own}").status_code == 200


def test_corpus_call_uploads(signed_in: TestClient) -> None:
    calls = corpus_calls()
    if not calls:
        return
    data = Path(calls[0] / "stereo.wav").read_bytes()
    r = upload(signed_in, data, "recording.mp3")  # misleading name: sniffed as WAV
    assert r.status_code == 201
    doc = signed_in.get(f"/api/calls/{r.json()['call_id']}").json()
    assert doc["source"]["container"] == "wav" and doc["source"]["codec"] == "pcm_mulaw"
