"""GET /api/export/calls: streamed CSV (BOM) and JSON Lines of the caller's scope, bad
format or date named (422), roles without read refused (403), audited; the call list
page links to it."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry
from rokuon.users.tokens import create_token
from rokuon.web.app import create_app
from tests.calls.test_export import T0, _seed
from tests.web.conftest import make_user, sign_in


def _token(rt, email: str, role: str, team: str | None = None,  # type: ignore[no-untyped-def]
           scopes: tuple[str, ...] = ("calls:read",)) -> dict[str, str]:
    make_user(rt, email, role, team=team)
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), email, list(scopes))
    return {"Authorization": f"Bearer {token}"}


def test_export_streams_the_scope_and_names_bad_input(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    ids = _seed(rt)
    sv = _token(rt, "sv-a@example.com", "supervisor", team="A")
    admin = _token(rt, "boss2@example.com", "admin")
    with TestClient(create_app(rt, start_workers=False)) as c:
        r = c.get("/api/export/calls", headers=admin)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert {x["call_id"] for x in rows} == set(ids.values())

        r = c.get("/api/export/calls", params={"format": "jsonl"}, headers=sv)
        assert r.status_code == 200
        got = {json.loads(x)["call_id"] for x in r.text.splitlines()}
        assert got == {ids["good"], ids["angry"]}  # team A only
        day = T0.date().isoformat()
        r = c.get("/api/export/calls", params={"format": "jsonl", "since": day,
                                               "until": day}, headers=admin)
        assert [json.loads(x)["call_id"] for x in r.text.splitlines()] == [ids["good"]]

        r = c.get("/api/export/calls", params={"format": "xlsx"}, headers=admin)
        assert r.status_code == 422 and "format: 'xlsx'" in r.text
        r = c.get("/api/export/calls", params={"since": "2026-13-40"}, headers=admin)
        assert r.status_code == 422 and "since" in r.text
        r = c.get("/api/export/calls", params={"since": "2026-12-02", "until": "2026-12-01"},
                  headers=admin)
        assert r.status_code == 422 and "after until" in r.text
        assert c.get("/api/export/calls").status_code == 401
        au = _token(rt, "au@example.com", "auditor", scopes=("audit:read",))
        assert c.get("/api/export/calls", headers=au).status_code == 403
    with rt.db.session() as s:
        n = len(s.scalars(select(AuditEntry).where(AuditEntry.action == "call.export")).all())
    assert n == 3  # the refused and the malformed requests exported nothing


def test_call_list_page_links_to_the_export(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    secret = make_user(rt, "boss3@example.com", "admin")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "boss3@example.com", secret)
        page = c.get("/", params={"since": "2026-11-01"})
        assert page.status_code == 200
        assert "/api/export/calls?format=csv&amp;since=2026-11-01&amp;until=" in page.text
        r = c.get("/api/export/calls", params={"since": "2026-11-01"})
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
