"""The disclosure review over HTTP and on the request page: the builder cannot approve,
a second compliance officer reviews and publishes; the one-step export can be turned
off."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyzipper
from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import csrf_from, make_user, sign_in

PASSWORD = "a long package password"
LINES = [("agent", 0.5, 3.0, "山田商事の鈴木でございます。"),
         ("customer", 3.5, 6.0, "山本です。カード番号を言います。")]


def _request(c: TestClient, rt, tmp_path: Path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    p = tmp_path / "c.wav"
    p.write_bytes(tone_wav(8.0, seed=51))
    meta = tmp_path / "c.json"
    meta.write_text(json.dumps({"customer_number": "0344445555"}), encoding="utf-8")
    [res] = ingest_files(rt, [p], meta_path=meta, actor=Principal.cli())
    write_transcript(rt, res.call_id, LINES)
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    rid = c.post("/api/requests", json={"customer_number": "0344445555", "name": "山本"},
                 headers=h).json()["request_id"]
    assert c.post(f"/api/requests/{rid}/verify", json={"method": "免許証"},
                  headers=h).status_code == 200
    return rid, res.call_id


def test_review_over_http(signed_in: TestClient, installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    admin = signed_in
    rid, cid = _request(admin, rt, tmp_path)
    h = {"X-CSRF-Token": admin.csrf}  # type: ignore[attr-defined]
    assert admin.post(f"/api/requests/{rid}/review", json={}).status_code == 403  # no CSRF
    assert admin.get(f"/api/requests/{rid}/review").status_code == 404
    r = admin.post(f"/api/requests/{rid}/review", json={"agent_voice": "loud"}, headers=h)
    assert r.status_code == 422
    r = admin.post(f"/api/requests/{rid}/review", json={}, headers=h)
    assert r.status_code == 201, r.text
    rev = r.json()
    assert rev["undecided"] >= 1 and any("鈴木" in sp["text"] for sp in rev["calls"][cid])
    r = admin.post(f"/api/disclosure-reviews/{rev['review_id']}/approve", json={}, headers=h)
    assert r.status_code == 422 and "four-eyes" in r.json()["error"]

    secret = make_user(rt, "officer@example.jp", "compliance")
    other = sign_in(TestClient(admin.app, follow_redirects=False), "officer@example.jp", secret)
    h2 = {"X-CSRF-Token": other.csrf}  # type: ignore[attr-defined]
    base = f"/api/disclosure-reviews/{rev['review_id']}"
    r = other.post(f"{base}/publish", json={"password": PASSWORD}, headers=h2)
    assert r.status_code == 422 and "only an approved" in r.json()["error"]
    for sp in rev["calls"][cid]:
        r = other.post(f"{base}/calls/{cid}/spans/{sp['id']}", json={"state": "accepted"},
                       headers=h2)
        assert r.status_code == 200, r.text
    assert other.post(f"{base}/calls/{cid}/spans/9999", json={"state": "accepted"},
                      headers=h2).status_code == 404
    r = other.post(f"{base}/calls/{cid}/spans", json={"start": 4.0, "end": 6.0,
                                                       "note": "card digits"}, headers=h2)
    assert r.status_code == 201, r.text
    r = other.post(f"{base}/approve", json={"note": "ok"}, headers=h2)
    assert r.status_code == 200 and r.json()["reviewed_by"] == "officer@example.jp"
    r = other.post(f"{base}/publish", json={"password": PASSWORD}, headers=h2)
    assert r.status_code == 200, r.text
    got = TestClient(admin.app).get(r.json()["download_path"])
    assert got.status_code == 200
    with pyzipper.AESZipFile(io.BytesIO(got.content)) as zf:
        zf.setpassword(PASSWORD.encode())
        text = zf.read(f"calls/{cid}/transcript.txt").decode()
    assert "鈴木" not in text and "カード番号" not in text
    assert admin.get(f"/api/requests/{rid}/review").json()["status"] == "published"


def test_review_on_the_page_and_one_step_export_off(signed_in: TestClient, installation,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    _, rt = installation
    admin = signed_in
    rid, _ = _request(admin, rt, tmp_path)
    page = admin.get(f"/requests/{rid}")
    assert page.status_code == 200 and "開示パッケージの二者確認" in page.text
    csrf = csrf_from(page.text)
    r = admin.post(f"/requests/{rid}/review", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = admin.get(f"/requests/{rid}?lang=en")
    assert "Disclosure package review" in page.text and "draft (awaiting review)" in page.text
    rev_id = admin.get(f"/api/requests/{rid}/review").json()["review_id"]
    r = admin.post(f"/requests/{rid}/review/{rev_id}/approve", data={"csrf": csrf})
    assert r.status_code == 422 and "four-eyes" in r.text
    r = admin.post(f"/requests/{rid}/review/{rev_id}/add",
                   data={"csrf": csrf, "call_id": "x", "start": "abc", "end": "2"})
    assert r.status_code == 422 and "not a number" in r.text
    rt.settings.disclosure_review_required = True
    try:
        h = {"X-CSRF-Token": admin.csrf}  # type: ignore[attr-defined]
        r = admin.post(f"/api/requests/{rid}/export", json={"password": PASSWORD}, headers=h)
        assert r.status_code == 409 and "second compliance officer" in r.json()["error"]
    finally:
        rt.settings.disclosure_review_required = False
