"""Data subject requests over HTTP and the checklist page: roles, CSRF, identity before
export, the expiring download link."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyzipper
from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import make_user, sign_in

PASSWORD = "a long package password"


def _call(rt, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    p = tmp_path / "c.wav"
    p.write_bytes(tone_wav(8.0, seed=31))
    meta = tmp_path / "c.json"
    meta.write_text(json.dumps({"customer_number": "0311112222"}), encoding="utf-8")
    [res] = ingest_files(rt, [p], meta_path=meta, actor=Principal.cli())
    write_transcript(rt, res.call_id, [("customer", 0.5, 3.0, "請求書について教えてください。")])
    return res.call_id


def test_request_flow_over_http(signed_in: TestClient, installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    call_id = _call(rt, tmp_path)
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    assert c.post("/api/requests", json={"customer_number": "0311112222"}).status_code == 403
    r = c.post("/api/requests", json={"customer_number": "03-1111-2222", "name": "山本"},
               headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    assert r.json()["calls"] == [call_id]
    r = c.post(f"/api/requests/{rid}/export", json={"password": PASSWORD}, headers=h)
    assert r.status_code == 422 and "verify the requester's identity" in r.json()["error"]
    r = c.post(f"/api/requests/{rid}/verify", json={"method": "免許証"}, headers=h)
    assert r.status_code == 200 and r.json()["identity"]["method"] == "免許証"
    r = c.post(f"/api/requests/{rid}/export", json={"password": "short"}, headers=h)
    assert r.status_code == 422
    r = c.post(f"/api/requests/{rid}/export", json={"password": PASSWORD}, headers=h)
    assert r.status_code == 200, r.text
    link = r.json()["download_path"]
    anon = TestClient(c.app)
    got = anon.get(link)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(got.content)) as zf:
        zf.setpassword(PASSWORD.encode())
        assert f"calls/{call_id}/transcript.txt" in zf.namelist()
    assert anon.get(link + "x").status_code == 404
    assert c.get("/api/requests").json()["requests"][0]["status"] == "delivered"


def test_operators_cannot_handle_requests(client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    make_user(rt, "op@example.com", "operator", agent_name="佐藤")
    c = sign_in(client, "op@example.com", None)
    r = c.post("/api/requests", json={"customer_number": "1"},
               headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403
    assert c.get("/api/requests").status_code == 403
    assert c.get("/compliance/report").status_code == 403


def test_checklist_page(signed_in: TestClient) -> None:
    r = signed_in.get("/compliance/report")
    assert r.status_code == 200 and "技術的安全管理措置" in r.text
    assert signed_in.get("/compliance/report?format=json").json()["summary"]["ok"] >= 1
    pdf = signed_in.get("/compliance/report?format=pdf")
    assert pdf.content.startswith(b"%PDF")
    en = signed_in.get("/compliance/report?lang=en")
    assert "Technical measures" in en.text


def test_request_pages(signed_in: TestClient, installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import re

    _, rt = installation
    c = signed_in
    call_id = _call(rt, tmp_path)
    page = c.get("/requests")
    assert page.status_code == 200 and "請求の受付" in page.text
    csrf = c.csrf  # type: ignore[attr-defined]
    assert c.post("/requests", data={"customer_number": "0311112222"}).status_code == 403
    r = c.post("/requests", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 422 and "customer number or a name" in r.text
    r = c.post("/requests", data={"csrf": csrf, "customer_number": "0311112222",
                                  "name": "<b>山本</b>"}, follow_redirects=False)
    assert r.status_code == 303
    detail = c.get(r.headers["location"])
    assert call_id[:8] in detail.text and "本人確認が未完了です" in detail.text
    assert "<b>山本</b>" not in detail.text  # escaped
    rid = r.headers["location"].rsplit("/", 1)[1]
    r = c.post(f"/requests/{rid}/export", data={"csrf": csrf, "password": PASSWORD})
    assert r.status_code == 422 and "verify the requester" in r.text
    c.post(f"/requests/{rid}/verify", data={"csrf": csrf, "method": "免許証"})
    c.post(f"/requests/{rid}/decide", data={"csrf": csrf, "call_id": call_id,
                                            "decision": "disclose"})
    r = c.post(f"/requests/{rid}/export", data={"csrf": csrf, "password": PASSWORD})
    assert r.status_code == 200
    link = re.search(r'id="package-link">([^<]+)<', r.text).group(1)
    assert TestClient(c.app).get(link).headers["content-type"] == "application/zip"
    assert "開示" in c.get("/requests").text
