"""The FAQ over HTTP: an admin (and a supervisor) may add, edit, delete and import
entries, each change audited; an operator may read and ask for suggestions but not
edit (403, nothing changed, nothing audited); a browser write needs the CSRF token; the
/faq page works in Japanese and English and its forms add, edit and import."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.store.models import AuditEntry
from rokuon.store.models_assist import FaqEntry
from tests.web.conftest import csrf_from, make_user, sign_in

ENTRY = {"question": "解約の手続き方法を知りたい",
         "answer": "マイページの「ご契約内容」から手続きできます。", "tags": ["解約", "退会"]}


def _audit(rt, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_admin_edits_operator_reads(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    r = c.post("/api/faq", json=ENTRY, headers=h)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["tags"] == ["解約", "退会"] and entry["language"] == "ja"
    assert entry["created_by"] == "admin@example.com"
    eid = entry["entry_id"]
    assert c.post("/api/faq", json=ENTRY, headers=h).status_code == 422  # same question
    bad = c.post("/api/faq", json={"question": "x", "answer": ""}, headers=h)
    assert bad.status_code == 422 and "the answer is empty" in bad.json()["error"]
    assert c.post("/api/faq", json=ENTRY).status_code == 403  # no CSRF token

    r = c.put(f"/api/faq/{eid}", json={"answer": "お電話でも承ります。"}, headers=h)
    assert r.status_code == 200 and r.json()["answer"] == "お電話でも承ります。"
    assert r.json()["question"] == ENTRY["question"]  # the rest is kept
    assert c.put("/api/faq/999999", json={"answer": "a"}, headers=h).status_code == 404

    files = {"file": ("more.csv", "question,answer\n住所を変更したい,登録情報の変更から。\n"
                      .encode(), "text/csv")}
    r = c.post("/api/faq/import", files=files, headers=h)
    assert r.status_code == 200 and r.json()["added"] == 1 and r.json()["entries"] == 2
    broken = {"file": ("broken.md", "## 質問だけ\n".encode(), "text/markdown")}
    r = c.post("/api/faq/import", files=broken, headers=h)
    assert r.status_code == 422
    assert r.json()["error"] == "broken.md line 1: the answer is empty (question '質問だけ')"

    sug = c.post("/api/faq/suggest", json={"text": "えっと、解約したいんですが"}, headers=h)
    assert sug.status_code == 200
    assert sug.json()["suggestions"][0]["entry_id"] == eid

    # an operator: reads and suggestions yes, changes no
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    sign_in(c, "sato@example.com", None)
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    assert len(c.get("/api/faq").json()["entries"]) == 2
    got = c.post("/api/faq/suggest", json={"text": "開約の手続きをしたいです"}, headers=h).json()
    assert got["suggestions"][0]["question"] == ENTRY["question"]
    for method, url, kw in (("POST", "/api/faq", {"json": {**ENTRY, "question": "別の質問"}}),
                            ("PUT", f"/api/faq/{eid}", {"json": {"answer": "改ざん"}}),
                            ("DELETE", f"/api/faq/{eid}", {}),
                            ("POST", "/api/faq/import", {"files": files})):
        r = c.request(method, url, headers=h, **kw)
        assert r.status_code == 403 and "faq_edit" in r.json()["error"], (method, url)
    assert c.get("/faq").status_code == 403
    with rt.db.session() as s:
        row = s.get(FaqEntry, eid)
        assert row is not None and row.answer == "お電話でも承ります。"
    assert [a.actor for a in _audit(rt, "faq.create")] == ["admin@example.com"]
    assert [a.detail["changed"] for a in _audit(rt, "faq.update")] == [["answer"]]
    assert len(_audit(rt, "faq.import")) == 1 and _audit(rt, "faq.delete") == []


def test_faq_page_forms_in_both_languages(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    c = signed_in
    page = c.get("/faq", params={"lang": "en"})
    assert page.status_code == 200 and "FAQ knowledge base" in page.text
    assert "No FAQ entries yet." in page.text
    csrf = csrf_from(page.text)
    r = c.post("/faq", data={"csrf": csrf, **{k: v for k, v in ENTRY.items() if k != "tags"},
                             "tags": "解約, 退会"})
    assert r.status_code == 303 and r.headers["location"].startswith("/faq?done=created#faq-")
    eid = int(r.headers["location"].rsplit("-", 1)[1])
    r = c.post("/faq", data={"csrf": csrf, "question": "", "answer": "a"})
    assert r.status_code == 422 and "the question is empty" in r.text
    assert c.post("/faq", data={"question": "q", "answer": "a"}).status_code == 403  # CSRF

    ja = c.get("/faq", params={"lang": "ja", "done": "created"})
    assert "FAQ ナレッジベース" in ja.text and "追加しました。" in ja.text
    assert ENTRY["question"] in ja.text and "退会" in ja.text
    tried = c.get("/faq", params={"q": "解約したいんですけど"})
    assert 'id="faq-tried"' in tried.text and f'href="#faq-{eid}"' in tried.text

    r = c.post(f"/faq/{eid}", data={"csrf": csrf, "question": ENTRY["question"],
                                    "answer": "新しい回答", "tags": "解約", "language": "ja"})
    assert r.status_code == 303  # no "active" box ticked: the entry is switched off
    with rt.db.session() as s:
        row = s.get(FaqEntry, eid)
        assert row is not None and row.answer == "新しい回答" and row.active is False
    assert c.get("/faq", params={"q": "解約したいんですけど"}).text.count('href="#faq-') == 0

    files = {"file": ("faq.md", "## 営業時間は？\n9時から18時です。\n".encode(), "text/markdown")}
    r = c.post("/faq/import", data={"csrf": csrf}, files=files)
    assert r.status_code == 303 and r.headers["location"] == "/faq?done=imported"
    r = c.post("/faq/import", data={"csrf": csrf},
               files={"file": ("x.pdf", b"%PDF", "application/pdf")})
    assert r.status_code == 422 and "x.pdf: an FAQ file is .csv" in r.text
    r = c.post(f"/faq/{eid}/delete", data={"csrf": csrf})
    assert r.status_code == 303
    with rt.db.session() as s:
        assert [e.question for e in s.scalars(select(FaqEntry))] == ["営業時間は？"]
    assert len(_audit(rt, "faq.delete")) == 1
