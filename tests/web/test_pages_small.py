"""Small things users hit: styled 403/404 pages in Japanese and English, the audit
page a page at a time with times in the installation's time zone."""

from __future__ import annotations

import re
from datetime import UTC
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_error_pages_are_styled_in_the_readers_language(signed_in: TestClient) -> None:
    c = signed_in
    r = c.get("/calls/0123456789abcdef", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "ページが見つかりません" in r.text and 'href="/static/style.css"' in r.text
    assert "404" in r.text
    r = c.get("/calls/0123456789abcdef?lang=en", headers=HTML)
    assert r.status_code == 404 and "Page not found" in r.text
    assert "ページが見つかりません" not in r.text
    # the API and scripts keep their machine-readable errors
    assert c.get("/api/calls/0123456789abcdef", headers=HTML).json()["error"]
    assert c.get("/calls/0123456789abcdef").headers["content-type"].startswith("text/plain")


def test_forbidden_page(installation, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import make_user, sign_in

    _, rt = installation
    secret = make_user(rt, "op@example.com", "operator")
    sign_in(client, "op@example.com", secret)
    r = client.get("/audit", headers={**HTML, "Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code == 403 and "Access denied" in r.text
    r = client.get("/audit?lang=ja", headers=HTML)
    assert r.status_code == 403 and "権限がありません" in r.text
    assert "<script>" not in r.text


def test_audit_page_is_paged_and_in_local_time(signed_in: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    with rt.db.session() as s:
        for i in range(230):
            audit.record(s, Principal.cli(), "test.paging", object_type="call",
                         object_id=f"obj-{i:03d}")
    with rt.db.session() as s:
        e = s.query(AuditEntry).filter(AuditEntry.object_id == "obj-229").one()
        stamp = e.at
    page = signed_in.get("/audit?action=test.paging").text
    assert len(re.findall(r"obj-\d{3}", page)) == 100
    assert "obj-229" in page and "obj-129" not in page
    assert "Asia/Tokyo" in page
    local = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(
        ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")
    assert local in page
    seen: list[str] = []
    url = "/audit?action=test.paging"
    while url:
        page = signed_in.get(url).text
        seen += re.findall(r"<td>(obj-\d{3})</td>", page)
        m = re.search(r'href="(/audit\?[^"]*before=\d+)" id="audit-older"', page)
        url = m.group(1).replace("&amp;", "&") if m else ""
    assert len(seen) == 230 and len(set(seen)) == 230  # every entry once, none skipped
    assert seen == sorted(seen, reverse=True)
    csv = signed_in.get("/audit.csv?action=test.paging").text  # the CSV stays in UTC
    utc = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)
    assert utc.strftime("%Y-%m-%dT%H:%M:%S") in csv


def test_a_crash_is_a_styled_page_or_json_naming_no_internals(installation, monkeypatch,
                                                              caplog) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from rokuon.scorecards import versions
    from rokuon.web.app import create_app
    from tests.web.conftest import make_user, sign_in

    _, rt = installation
    secret = make_user(rt, "sv@example.com", "supervisor", team="A")

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals /var/lib/x")

    with TestClient(create_app(rt, start_workers=False), follow_redirects=False,
                    raise_server_exceptions=False) as c:
        sign_in(c, "sv@example.com", secret)
        monkeypatch.setattr(versions, "listing", boom)
        page = c.get("/scorecards?lang=ja", headers={"accept": "text/html"})
        assert page.status_code == 500 and "<html" in page.text.lower()
        assert "secret internals" not in page.text and "rokuon" in page.text
        api = c.get("/api/scorecards")
        assert api.status_code == 500 and api.json()["error"].startswith("internal error")
    assert "secret internals" in caplog.text  # the log has it
