"""Edges of the web surface: streamed uploads without Content-Length, metadata
header encodings, channel roles, cross-origin writes, 401 challenge, page errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rokuon.store.models import Call, CallStatus
from tests.helpers import tone_wav


def _post(c: TestClient, body: bytes | Iterator[bytes], name: str = "x.wav",
          **headers: str | bytes):  # type: ignore[no-untyped-def]
    h = {"X-CSRF-Token": c.csrf, **headers}  # type: ignore[attr-defined]
    return c.post(f"/api/calls?filename={quote(name)}", content=body, headers=h)


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_streamed_upload_without_length(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    """A chunked body (no Content-Length) is streamed into the store; the size limit
    is then enforced while reading, and a refusal leaves nothing behind."""
    _, rt = installation
    c = signed_in
    r = _post(c, _chunks(tone_wav(1.0, seed=71)), "chunked.wav")
    assert r.status_code == 201, r.text
    rt.settings.max_upload_bytes = 5000
    r = _post(c, _chunks(tone_wav(2.0, seed=72)), "big.wav")
    assert r.status_code == 413, r.text
    assert "upload limit" in r.json()["error"]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
    assert len(list(rt.blobs.keys())) == 1


def test_metadata_header_encodings(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    raw = json.dumps({"agent": "山田", "queue": "50%off", "external_id": "raw-1"},
                     ensure_ascii=False)
    r = _post(c, tone_wav(1.0, seed=73), **{"X-Rokuon-Metadata": raw.encode()})
    assert r.status_code == 201, r.text
    pct = json.dumps({"agent": "佐藤", "external_id": "pct-1"}, ensure_ascii=False)
    r2 = _post(c, tone_wav(1.0, seed=74), **{"X-Rokuon-Metadata": quote(pct)})
    assert r2.status_code == 201, r2.text
    with rt.db.session() as s:
        got = {x.external_id: (x.agent, x.queue) for x in s.scalars(select(Call))}
    assert got == {"raw-1": ("山田", "50%off"), "pct-1": ("佐藤", None)}
    # a known external id is a duplicate before a byte is stored
    r = _post(c, tone_wav(1.0, seed=75), **{"X-Rokuon-Metadata": raw.encode()})
    assert r.status_code == 200 and r.json()["duplicate_of"] == r.json()["call_id"]
    r = _post(c, tone_wav(1.0, seed=76), **{"X-Rokuon-Metadata": b"\xff\xfe{}"})
    assert r.status_code == 422
    r = _post(c, tone_wav(1.0, seed=76),
              **{"X-Rokuon-Metadata": '{"direction": "sideways"}'})
    assert r.status_code == 422 and "'direction'" in r.json()["error"]


def test_channel_roles(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    r = c.post("/api/calls?filename=a.wav&channels=agent,agent", content=tone_wav(1.0, seed=77),
               headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and "channels" in r.json()["error"]
    r = c.post("/api/calls?filename=a.wav&channels=customer,agent",
               content=tone_wav(1.0, seed=77),
               headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 201
    doc = c.get(f"/api/calls/{r.json()['call_id']}").json()
    assert {p["channel"]: p["role"] for p in doc["parties"]} == {0: "customer", 1: "agent"}


def test_cross_origin_writes_refused(client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    res, _ = installation
    form = {"email": res.admin_email, "password": res.admin_password}
    r = client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.text
    assert "rokuon_session" not in r.cookies
    assert r.headers["x-frame-options"] == "DENY"
    r = client.post("/api/calls", content=b"x", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    # Fetch Metadata wins over Origin (a sibling subdomain is another site, too)
    r = client.post("/login", data=form, headers={"Sec-Fetch-Site": "same-site",
                                                  "Origin": "http://testserver"})
    assert r.status_code == 403
    # Origin "null" (our own form under Referrer-Policy no-referrer, older browsers) and
    # no Origin at all (scripts) are left to the session and CSRF checks
    assert client.post("/api/calls", content=b"x", headers={"Origin": "null"}
                       ).status_code == 401
    assert client.post("/api/calls", content=b"x").status_code == 401
    # the page's own origin (and a proxy's forwarded host) are fine
    r = client.post("/login", data=form, headers={"Origin": "http://testserver"})
    assert r.status_code == 303
    client.cookies.clear()
    r = client.post("/login", data=form, headers={"Origin": "null",
                                                  "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    client.cookies.clear()
    r = client.post("/login", data=form, headers={"Origin": "https://rokuon.example",
                                                  "X-Forwarded-Host": "rokuon.example"})
    assert r.status_code == 303
    # reads are never blocked by Origin
    assert client.get("/login", headers={"Origin": "https://evil.example"}).status_code == 200


def test_unauthenticated_api_challenge(client: TestClient) -> None:
    r = client.get("/api/search?q=x")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/api/calls", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid or expired API token"
    r = client.get("/calls/0123456789abcdef")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_pages(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    r = c.get("/calls/0123456789abcdef")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    r = _post(c, tone_wav(1.0, seed=78), "pending.wav")
    call_id = r.json()["call_id"]
    page = c.get(f"/calls/{call_id}")
    assert page.status_code == 200 and 'data-status="stored"' in page.text
    assert "処理中です" in page.text and "<script>" not in page.text  # no inline script
    with rt.db.session() as s:
        call = s.get(Call, call_id)
        call.status, call.status_reason = CallStatus.FAILED, "ASR model missing"
    page = c.get(f"/calls/{call_id}?lang=en")
    assert "Processing failed: ASR model missing" in page.text
    assert page.cookies.get("lang") == "en"
    assert 'lang="en"' in c.get("/").text  # the choice sticks (cookie)
    assert 'lang="ja"' in c.get("/?lang=ja").text
    c.cookies.delete("lang")
    assert 'lang="en"' in c.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert 'lang="ja"' in c.get("/", headers={"Accept-Language": "fr"}).text
    # the upload form carries the CSRF token for upload.js; filters keep their values
    page = c.get("/?since=2026-01-01&direction=outbound&agent=x")
    assert f'data-csrf="{c.csrf}"' in page.text  # type: ignore[attr-defined]
    assert 'value="2026-01-01"' in page.text and 'value="outbound" selected' in page.text
    assert c.get("/?since=not-a-date").status_code == 200
    assert c.get("/static/player.js").status_code == 200
