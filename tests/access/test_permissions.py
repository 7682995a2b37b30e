"""One permission model: docs/security.md shows exactly access.permissions.MATRIX, every
route of the app is classified by the action it needs, and every role gets what the
table says on every route (a real request per role × route)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access import permissions
from rokuon.access.door import BREAK_GLASS_ROLES
from rokuon.access.principal import ROLES, Principal
from rokuon.store.models import ApiToken, AuditEntry, User, utcnow
from rokuon.users.tokens import TokenError, create_token, digest
from rokuon.web.app import create_app
from tests.access.test_security import _call
from tests.helpers import tone_wav
from tests.web.conftest import make_user, sign_in

DOCS = Path(__file__).parents[2] / "docs" / "security.md"
PUBLIC, OWN_ACCOUNT = "public", "own account"

# every route of the app → the action it needs (a new route must be added here)
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC, ("GET", "/healthz"): PUBLIC,
    ("GET", "/requests/download/{token}"): PUBLIC,  # the link's secret is the credential
    ("POST", "/logout"): OWN_ACCOUNT, ("GET", "/password"): OWN_ACCOUNT,
    ("POST", "/password"): OWN_ACCOUNT, ("GET", "/mfa/setup"): OWN_ACCOUNT,
    ("POST", "/mfa/setup"): OWN_ACCOUNT, ("GET", "/mfa"): OWN_ACCOUNT,
    ("POST", "/mfa"): OWN_ACCOUNT,
    ("GET", "/"): "read", ("GET", "/api/calls"): "read",
    ("POST", "/views"): "read", ("POST", "/views/{view_id}/delete"): "read",
    ("GET", "/calls/{call_id}"): "read", ("GET", "/api/calls/{call_id}"): "read",
    ("POST", "/api/calls/{call_id}/break-glass"): "read",
    ("GET", "/api/search"): "search",
    ("GET", "/api/calls/{call_id}/audio"): "play",
    ("POST", "/api/calls"): "upload",
    ("GET", "/live"): "read", ("GET", "/api/live"): "read",
    ("GET", "/api/live/events"): "read",
    ("POST", "/api/calls/{call_id}/pause"): "upload",
    ("POST", "/api/calls/{call_id}/resume"): "upload",
    ("DELETE", "/api/calls/{call_id}"): "delete",
    ("GET", "/audit"): "audit", ("GET", "/audit.csv"): "audit",
    ("GET", "/compliance/report"): "audit",
    ("GET", "/requests"): "export", ("POST", "/requests"): "export",
    ("GET", "/requests/{request_id}"): "export",
    ("POST", "/requests/{request_id}/verify"): "export",
    ("POST", "/requests/{request_id}/decide"): "export",
    ("POST", "/requests/{request_id}/export"): "export",
    ("POST", "/requests/{request_id}/review"): "export",
    ("POST", "/requests/{request_id}/review/{review_id}/span"): "export",
    ("POST", "/requests/{request_id}/review/{review_id}/add"): "export",
    ("POST", "/requests/{request_id}/review/{review_id}/approve"): "export",
    ("POST", "/requests/{request_id}/review/{review_id}/publish"): "export",
    ("GET", "/api/requests"): "export", ("POST", "/api/requests"): "export",
    ("GET", "/api/requests/{request_id}"): "export",
    ("POST", "/api/requests/{request_id}/verify"): "export",
    ("POST", "/api/requests/{request_id}/decide"): "export",
    ("POST", "/api/requests/{request_id}/export"): "export",
    ("POST", "/api/requests/{request_id}/review"): "export",
    ("GET", "/api/requests/{request_id}/review"): "export",
    ("POST", "/api/disclosure-reviews/{review_id}/calls/{call_id}/spans/{span_id}"): "export",
    ("POST", "/api/disclosure-reviews/{review_id}/calls/{call_id}/spans"): "export",
    ("POST", "/api/disclosure-reviews/{review_id}/approve"): "export",
    ("POST", "/api/disclosure-reviews/{review_id}/publish"): "export",
    ("POST", "/api/breaches"): "export", ("GET", "/api/breaches"): "export",
    ("GET", "/api/breaches/{incident_id}"): "export",
    ("GET", "/api/breaches/{incident_id}/affected"): "export",
    ("POST", "/api/breaches/{incident_id}/notices"): "export",
    ("GET", "/api/breaches/{incident_id}/export"): "export",
    ("POST", "/api/cdr/import"): "admin",
    ("GET", "/api/cdr/reconcile"): "audit", ("GET", "/api/cdr/runs"): "audit",
    ("GET", "/dashboard"): "report", ("GET", "/api/reports/kpis"): "report",
    ("GET", "/api/reports/keywords"): "report",
    ("GET", "/api/reports/topics"): "report", ("GET", "/reports/topics"): "report",
    ("GET", "/api/webhooks"): "admin", ("POST", "/api/webhooks"): "admin",
    ("DELETE", "/api/webhooks/{webhook_id}"): "admin",
    ("GET", "/api/webhooks/deliveries"): "admin",
    ("GET", "/api/alerts"): "read", ("POST", "/api/alerts/{alert_id}/ack"): "read",
    ("GET", "/api/calls/{call_id}/comments"): "read",
    ("POST", "/api/calls/{call_id}/comments"): "read",
    ("POST", "/api/calls/{call_id}/comments/{comment_id}/ack"): "read",
    ("DELETE", "/api/calls/{call_id}/comments/{comment_id}"): "read",
    ("POST", "/calls/{call_id}/comments"): "read",
    ("POST", "/calls/{call_id}/comments/{comment_id}/ack"): "read",
    ("PUT", "/api/calls/{call_id}/qa/{criterion}"): "coach",
    ("DELETE", "/api/calls/{call_id}/qa/{criterion}"): "coach",
    ("POST", "/calls/{call_id}/qa/{criterion}"): "coach",
    ("GET", "/api/coaching/queue"): "coach", ("GET", "/coaching"): "coach",
    ("GET", "/api/faq"): "faq_read", ("POST", "/api/faq/suggest"): "faq_read",
    ("POST", "/api/faq"): "faq_edit", ("PUT", "/api/faq/{entry_id}"): "faq_edit",
    ("DELETE", "/api/faq/{entry_id}"): "faq_edit", ("POST", "/api/faq/import"): "faq_edit",
    ("GET", "/faq"): "faq_edit", ("POST", "/faq"): "faq_edit",
    ("POST", "/faq/import"): "faq_edit", ("POST", "/faq/{entry_id}"): "faq_edit",
    ("POST", "/faq/{entry_id}/delete"): "faq_edit",
    ("GET", "/api/scorecards"): "scorecards", ("GET", "/api/scorecards/{name}"): "scorecards",
    ("PUT", "/api/scorecards/{name}"): "scorecards",
    ("POST", "/api/scorecards/{name}/rescore"): "scorecards",
    ("GET", "/api/rescore/{run_id}"): "scorecards", ("GET", "/scorecards"): "scorecards",
    ("GET", "/scorecards/{name}"): "scorecards", ("POST", "/scorecards/{name}"): "scorecards",
    ("POST", "/scorecards/{name}/rescore"): "scorecards",
    ("GET", "/scorecards/runs/{run_id}"): "scorecards",
    ("GET", "/scorecards/runs/{run_id}.csv"): "scorecards",
    ("GET", "/calls/{call_id}/timeline"): "read", ("GET", "/api/calls/{call_id}/timeline"): "read",
    ("GET", "/api/users"): "admin", ("POST", "/api/users"): "admin",
    ("PUT", "/api/users/{user_id}"): "admin", ("POST", "/api/users/{user_id}/reset-mfa"): "admin",
    ("POST", "/api/users/{user_id}/reset-password"): "admin",
    ("GET", "/admin/users"): "admin", ("POST", "/admin/users"): "admin",
    ("POST", "/admin/users/{user_id}"): "admin",
    ("GET", "/api/live-rules"): "admin", ("PUT", "/api/live-rules"): "admin",
    ("GET", "/live/rules"): "admin", ("POST", "/live/rules"): "admin",
    ("PUT", "/api/live/preregister/{key}"): "upload",
    ("GET", "/admin/crm"): "admin", ("POST", "/admin/crm/deliveries/{delivery_id}/retry"): "admin",
    ("GET", "/api/crm/deliveries"): "admin", ("GET", "/api/sms/messages"): "admin",
    ("POST", "/calls/{call_id}/sms"): "read",
    ("POST", "/api/sms/twilio/inbound"): PUBLIC,  # X-Twilio-Signature is the credential
    ("POST", "/api/twilio/recordings"): PUBLIC,  # X-Twilio-Signature is the credential
    ("GET", "/api/export/calls"): "read",  # the caller's scope only
}
LISTINGS = {("GET", "/"), ("GET", "/api/calls"), ("GET", "/api/search")}


def test_docs_show_the_table_of_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(r"<!-- permissions:begin -->\n(.*?)\n<!-- permissions:end -->", text, re.S)
    assert m, "docs/security.md lost its permission table markers"
    assert m.group(1).strip() == permissions.markdown_table()


def test_every_route_is_classified(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    app = create_app(rt, start_workers=False)
    found = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert found == set(ROUTES), {"unclassified": found - set(ROUTES),
                                  "gone": set(ROUTES) - found}
    assert set(ROUTES.values()) - {PUBLIC, OWN_ACCOUNT} <= set(permissions.ACTIONS)


USERS = {"admin": "admin2@example.com", "compliance": "co@example.com",
         "supervisor": "sv-a@example.com", "operator": "sato@example.com",
         "auditor": "au@example.com"}


@pytest.fixture
def people(installation):  # type: ignore[no-untyped-def]
    _, rt = installation
    secrets = {role: make_user(rt, email, role, team="A" if role == "supervisor" else None,
                               agent_name="sato" if role == "operator" else None)
               for role, email in USERS.items()}
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield rt, c, secrets


def _request(c: TestClient, method: str, path: str, call_id: str, seed: int):  # type: ignore[no-untyped-def]
    url = path.replace("{call_id}", call_id).replace("{request_id}", "0" * 32) \
        .replace("{incident_id}", "0" * 32).replace("{comment_id}", "0") \
        .replace("{criterion}", "greeting").replace("{entry_id}", "0") \
        .replace("{view_id}", "0").replace("{name}", "default_ja").replace("{run_id}", "0") \
        .replace("{user_id}", "0").replace("{key}", "0f0e0d0c-0b0a")
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    if (method, path) == ("POST", "/api/calls"):
        return c.post("/api/calls?filename=p.wav", content=tone_wav(0.5, seed=seed), headers=h)
    if (method, path) == ("POST", "/api/cdr/import"):
        return c.post("/api/cdr/import?format=asterisk", content=b"", headers=h)
    if method == "POST" and path.endswith("/break-glass"):
        return c.post(url, json={"justification": "ticket 4711: customer asked for review"},
                      headers=h)
    if path.startswith("/api/") and method == "POST":
        body = {"method": "letter", "decision": "disclose", "password": "a long package pw",
                "title": "lost laptop", "description": "a laptop with an export was lost"}
        return c.post(url, json=body, headers=h)
    if method == "POST":
        return c.post(url, data={"csrf": c.csrf, "kind": "disclosure",  # type: ignore[attr-defined]
                                 "customer_number": "0354441212", "method": "passport"})
    params = {"purpose": "quality", "reason": "permission walk", "q": "お支払い", "once": "1"}
    return c.request(method, url, params=params, headers=h)


def test_each_role_gets_what_the_table_says(people) -> None:  # type: ignore[no-untyped-def]
    rt, c, secrets = people
    seed = 200
    for role in ROLES:
        sign_in(c, USERS[role], secrets[role])
        who = Principal(name=USERS[role], role=role)
        for (method, path), action in sorted(ROUTES.items()):
            if action in (PUBLIC, OWN_ACCOUNT):
                continue
            seed += 1
            # a call in every scoped role's scope (agent sato, team A); a fresh one for
            # an erasure that may succeed
            call_id = _call(rt, seed, '{"agent": "sato", "team": "A"}')
            r = _request(c, method, path, call_id, seed)
            may = permissions.allowed(who, action)
            if path.endswith("/break-glass"):
                may = may and role in BREAK_GLASS_ROLES
            where = (role, method, path, r.status_code)
            if (method, path) in LISTINGS:
                assert r.status_code == 200, where
                assert (call_id in r.text) == may, where  # nothing for no-content roles
            elif may:
                assert r.status_code not in (401, 403) and r.status_code < 500, where
            else:
                assert r.status_code == 403, where
    with rt.db.session() as s:  # every refusal of a call route left no content audit
        plays = s.scalars(select(AuditEntry).where(AuditEntry.actor == USERS["auditor"],
                                                   AuditEntry.action == "call.play")).all()
    assert plays == []


def test_auditor_cannot_upload_even_with_an_old_write_token(people) -> None:  # type: ignore[no-untyped-def]
    rt, c, _ = people
    with rt.db.session() as s:
        with pytest.raises(TokenError, match="auditor role .* does not allow calls:write"):
            create_token(s, Principal.cli(), USERS["auditor"], ["calls:write"])
        token, _ = create_token(s, Principal.cli(), USERS["auditor"], ["audit:read"])
        uid = s.scalars(select(User.id).where(User.email == USERS["auditor"])).one()
        # a token made before the rule (scopes beyond the role) still cannot upload
        from datetime import timedelta

        s.add(ApiToken(user_id=uid, name="old", token_hash=digest("rk_old-write-token"),
                       scopes=["calls:write"], expires_at=utcnow() + timedelta(days=1)))
    c.cookies.clear()
    r = c.post("/api/calls?filename=a.wav", content=tone_wav(0.5, seed=300),
               headers={"Authorization": "Bearer rk_old-write-token"})
    assert r.status_code == 403 and "auditor" in r.json()["error"]
    with rt.db.session() as s:
        assert create_token(s, Principal.cli(), USERS["operator"], ["calls:write"])


def test_supervisor_without_a_team_sees_nothing(people) -> None:  # type: ignore[no-untyped-def]
    rt, c, _ = people
    cid = _call(rt, 310, '{"agent": "kato", "team": "B"}')
    secret = make_user(rt, "sv-none@example.com", "supervisor")
    sign_in(c, "sv-none@example.com", secret)
    assert c.get("/api/calls").json()["calls"] == []
    assert c.get(f"/api/calls/{cid}").status_code == 404
    assert c.get("/api/search", params={"q": "お支払い"}).json()["hits"] == []
    assert c.get(f"/api/calls/{cid}/audio", params={"purpose": "quality"}).status_code == 404


def test_healthz_says_only_ok(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    with TestClient(create_app(rt, start_workers=False)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
