"""User administration over HTTP and in the page: add (one-time password shown once, not
cached), change role (their sessions end), deactivate (they are out at once), reset MFA
(they enrol again), reset password; hostile text escaped; the last admin and the admin's
own account are protected; non-admins get 403; every change is audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.store.models import AuditEntry, User
from rokuon.web.app import create_app
from tests.web.conftest import make_user, sign_in


def _id(rt, email: str) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return s.scalars(select(User.id).where(User.email == email)).one()


def test_admin_manages_users_over_the_api(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    boss = make_user(rt, "boss@example.com", "admin")
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c, \
            TestClient(create_app(rt, start_workers=False), follow_redirects=False) as other:
        sign_in(other, "sv@example.com", sv)  # the supervisor is signed in elsewhere
        assert other.get("/api/scorecards").status_code == 200
        assert other.get("/api/users").status_code == 403  # not an admin
        sign_in(c, "boss@example.com", boss)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        assert c.post("/api/users", json={"email": "new@example.com", "role": "operator"}
                      ).status_code == 403  # no CSRF token
        r = c.post("/api/users", json={"email": "new@example.com", "role": "operator",
                                       "agent_name": "<i>kato</i>"}, headers=h)
        assert r.status_code == 201 and len(r.json()["one_time_password"]) >= 16
        new_id = r.json()["user_id"]
        assert c.post("/api/users", json={"email": "new@example.com", "role": "operator"},
                      headers=h).json()["error"] == "user new@example.com already exists"
        assert c.post("/api/users", json={"email": "x@example.com", "role": "god"},
                      headers=h).status_code == 422
        assert c.post("/api/users", json=["x"], headers=h).status_code == 422
        assert c.put(f"/api/users/{new_id}", json={"rank": 1}, headers=h).status_code == 422
        assert c.put("/api/users/999999", json={"active": False}, headers=h).status_code == 404

        sv_id = _id(rt, "sv@example.com")
        r = c.put(f"/api/users/{sv_id}", json={"role": "operator", "agent_name": "suzuki"},
                  headers=h)
        assert r.status_code == 200 and r.json()["sessions_ended"] == 1
        assert other.get("/api/scorecards").status_code == 401  # signed out at once
        r = c.post(f"/api/users/{sv_id}/reset-mfa", headers=h)
        assert r.status_code == 200 and r.json()["mfa_was_enabled"] is True
        r = c.post(f"/api/users/{sv_id}/reset-password", headers=h)
        assert r.status_code == 200 and r.json()["one_time_password"]
        assert c.put(f"/api/users/{sv_id}", json={"active": False}, headers=h).json()[
            "changed"] is True
        users = {u["email"]: u for u in c.get("/api/users").json()["users"]}
        assert users["sv@example.com"]["role"] == "operator"
        assert users["sv@example.com"]["active"] is False
        assert users["sv@example.com"]["mfa_enabled"] is False
        assert "password_hash" not in users["sv@example.com"]

        me = _id(rt, "boss@example.com")
        assert "your own" in c.put(f"/api/users/{me}", json={"active": False},
                                   headers=h).json()["error"]
        assert "your own" in c.post(f"/api/users/{me}/reset-mfa", headers=h).json()["error"]
        first = _id(rt, "admin@example.com")  # the installation's admin
        assert c.put(f"/api/users/{first}", json={"active": False}, headers=h).status_code == 200
        r = c.put(f"/api/users/{me}", json={"role": "operator"}, headers=h)
        assert r.status_code == 422 and "only active admin" in r.json()["error"]
    with rt.db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.actor == "boss@example.com", AuditEntry.action.like("user.%")))]
    assert {"user.create", "user.set_role", "user.reset_mfa", "user.reset_password",
            "user.deactivate"} <= set(actions)


def test_the_page(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    boss = make_user(rt, "boss@example.com", "admin")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "boss@example.com", boss)
        csrf = c.csrf  # type: ignore[attr-defined]
        r = c.post("/admin/users", data={"csrf": csrf, "email": "op@example.com",
                                         "role": "operator", "team": "<script>x</script>"})
        assert r.status_code == 200 and 'id="adm-password"' in r.text
        assert r.headers["cache-control"] == "no-store"
        assert "&lt;script&gt;x&lt;/script&gt;" in r.text and "<script>x" not in r.text
        assert 'id="adm-password"' not in c.get("/admin/users").text  # shown once
        r = c.post("/admin/users", data={"csrf": csrf, "email": "not-an-address",
                                         "role": "operator"})
        assert r.status_code == 422 and "not an e-mail address" in r.text
        uid = _id(rt, "op@example.com")
        r = c.post(f"/admin/users/{uid}", data={"csrf": csrf, "verb": "role",
                                               "role": "supervisor", "team": "B"})
        assert r.status_code == 303 and "done=role" in r.headers["location"]
        r = c.post(f"/admin/users/{uid}", data={"csrf": csrf, "verb": "explode"})
        assert r.status_code == 422
        assert c.post(f"/admin/users/{uid}", data={"verb": "deactivate"}).status_code == 403
        r = c.post(f"/admin/users/{uid}", data={"csrf": csrf, "verb": "reset_password"})
        assert r.status_code == 200 and 'id="adm-password"' in r.text
    with rt.db.session() as s:
        u = s.scalars(select(User).where(User.email == "op@example.com")).one()
        assert (u.role, u.team, u.must_change_password) == ("supervisor", "B", True)
