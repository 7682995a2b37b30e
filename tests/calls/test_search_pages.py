"""Search pages: newest first, a total, an opaque cursor to the next page (service, API,
CLI), a refused cursor, and search statements never prepared on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rokuon.access.principal import Principal
from rokuon.calls.search_cursor import CursorError
from rokuon.calls.service import CallFilter, search_page
from tests.calls.test_search import _call

CLI = Principal.cli()


def _seed(rt, tmp_path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(4):
        ids.append(_call(rt, tmp_path, 70 + i,
                         f'{{"agent": "sato", "started_at": "2026-11-0{i + 1}T10:00:00+09:00"}}',
                         [("customer", 0.5, 2.0, f"円の話その{i}"),
                          ("agent", 2.5, 4.0, "千円になります")]))
    ids.append(_call(rt, tmp_path, 79, '{"agent": "sato"}',  # no start time: last
                     [("customer", 0.5, 2.0, "円です")]))
    return ids


def test_cursor_walks_every_hit_once_newest_first(rt, tmp_path: Path) -> None:
    ids = _seed(rt, tmp_path)
    seen: list[tuple[str, float]] = []
    cursor = None
    pages = 0
    with rt.db.session() as s:
        while True:
            page = search_page(s, CLI, "円", CallFilter(limit=3), "Asia/Tokyo", cursor=cursor)
            assert page["total"] == 9 and page["total_exact"] and not page["total_capped"]
            seen += [(h["call_id"], h["start"]) for h in page["hits"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 9
    order = [c for c, _ in seen]
    newest_first = [ids[3], ids[2], ids[1], ids[0], ids[4]]
    assert sorted(dict.fromkeys(order), key=order.index) == newest_first
    # offset pages still work and agree with the cursor walk
    with rt.db.session() as s:
        off = search_page(s, CLI, "円", CallFilter(limit=3, offset=3), "Asia/Tokyo")
    assert [(h["call_id"], h["start"]) for h in off["hits"]] == seen[3:6]


def test_bad_cursor_is_refused(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s, pytest.raises(CursorError, match="cursor"):
        search_page(s, CLI, "円", CallFilter(), "Asia/Tokyo", cursor="not-a-cursor")


def test_api_and_cli_give_total_and_next_cursor(installation, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from rokuon.cli.main import app
    from rokuon.users.tokens import create_token
    from rokuon.web.app import create_app

    res, rt = installation
    _seed(rt, tmp_path)
    out = CliRunner().invoke(app, ["search", "円", "--limit", "5", "--json"],
                             catch_exceptions=False)
    first = json.loads(out.stdout)
    assert out.exit_code == 0 and len(first["hits"]) == 5 and first["total"] == 9
    out = CliRunner().invoke(app, ["search", "円", "--limit", "5", "--json", "--cursor",
                                   first["next_cursor"]], catch_exceptions=False)
    second = json.loads(out.stdout)
    assert len(second["hits"]) == 4 and second["next_cursor"] is None
    again = CliRunner().invoke(app, ["search", "円", "--limit", "5", "--json", "--after",
                                     first["next"]], catch_exceptions=False)
    assert json.loads(again.stdout)["hits"] == second["hits"]
    assert first["total_is_estimate"] is False
    out = CliRunner().invoke(app, ["search", "円", "--cursor", "zz"])
    assert out.exit_code != 0 and "cursor" in out.output
    with rt.db.session() as s:
        token, _ = create_token(s, CLI, res.admin_email, ["calls:read"])
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        r = c.get("/api/search", params={"q": "円", "limit": 5}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 9 and len(body["hits"]) == 5
        r = c.get("/api/search", params={"q": "円", "limit": 5,
                                         "cursor": body["next_cursor"]}, headers=h)
        assert [x["call_id"] for x in r.json()["hits"]] == \
            [x["call_id"] for x in second["hits"]]
        r2 = c.get("/api/search", params={"q": "円", "limit": 5, "after": body["next"]},
                   headers=h)
        assert r2.json()["hits"] == r.json()["hits"]
        r = c.get("/api/search", params={"q": "円", "cursor": "@@"}, headers=h)
        assert r.status_code == 400 and "cursor" in r.text, r.text
        # the page: the total and a link to the next matches (pages of 50: 9 fit)
        from tests.web.conftest import csrf_from, enrol_mfa

        c.post("/login", data={"email": res.admin_email, "password": res.admin_password})
        page = c.get("/password")
        c.post("/password", data={"current_password": res.admin_password,
                                  "new_password": "correct horse battery staple",
                                  "csrf": csrf_from(page.text)})
        enrol_mfa(c)
        html = c.get("/", params={"q": "円"}).text
        assert "9 件" in html and 'id="hits-next"' not in html
        html = c.get("/", params={"q": "円", "lang": "en"}).text
        assert "9 hits" in html
        html = c.get("/", params={"q": "円", "lang": "ja",
                                  "scursor": body["next_cursor"]}).text
        section = html.split('id="hits"')[1].split("</section>")[0]
        assert section.count("<li>") == 4 and "最初の検索結果" in section
        html = c.get("/", params={"q": "円", "scursor": "@@"}).text
        assert "is not a cursor this server gave" in html


def test_sixth_execution_on_one_connection_is_not_prepared(rt, tmp_path: Path) -> None:
    """psycopg prepares a statement from its 6th execution; search must not be."""
    _seed(rt, tmp_path)
    if rt.db.engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are a PostgreSQL matter")
    from sqlalchemy import text

    with rt.db.session() as s:
        for _ in range(8):
            assert search_page(s, CLI, "円", CallFilter(), "Asia/Tokyo")["total"] == 9
        n = s.execute(text("SELECT count(*) FROM pg_prepared_statements "
                           "WHERE statement ILIKE '%rokuon_grams%'")).scalar()
        assert n == 0
