"""Changing a user: a new role ends their sessions and revokes the tokens it no longer
allows; deactivation stops sign-in, sessions and tokens at once; the last admin stays;
everything audited. Over the CLI (`rokuon user set-role / deactivate / activate`) and
against the real web app."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app
from rokuon.store.models import ApiToken, AuditEntry, User
from rokuon.users.tokens import create_token, resolve_token
from rokuon.web.app import create_app
from tests.web.conftest import NEW_PASSWORD, make_user, sign_in

runner = CliRunner()


def test_set_role_and_deactivate(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    secret = make_user(rt, "sv@example.com", "supervisor", team="A")
    with rt.db.session() as s:
        write, _ = create_token(s, Principal.cli(), "sv@example.com", ["calls:write"])
        read, _ = create_token(s, Principal.cli(), "sv@example.com", ["calls:read"])
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", secret)
        assert c.get("/coaching").status_code == 200
        r = runner.invoke(app, ["user", "set-role", "SV@example.com", "--role", "auditor",
                                "--json"])
        assert r.exit_code == 0, r.output
        res = json.loads(r.stdout)
        assert res["before"] == "supervisor" and res["role"] == "auditor"
        # an auditor reads no call content: both call tokens go
        assert res["sessions_ended"] == 1 and res["tokens_revoked"] == 2
        assert c.get("/coaching").status_code in (303, 401)  # the session is gone
        for tok in (write, read):
            assert c.get("/api/calls", headers={"Authorization": f"Bearer {tok}"}
                         ).status_code == 401
        with rt.db.session() as s:  # what an auditor may have
            audit_tok, _ = create_token(s, Principal.cli(), "sv@example.com", ["audit:read"])
            assert resolve_token(s, audit_tok) is not None
        assert runner.invoke(app, ["user", "set-role", "sv@example.com", "--role",
                                   "boss"]).exit_code == 1
        assert runner.invoke(app, ["user", "set-role", "nobody@example.com", "--role",
                                   "admin"]).exit_code == 1

        r = runner.invoke(app, ["user", "deactivate", "sv@example.com", "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout)["tokens_revoked"] == 1
        with rt.db.session() as s:
            assert resolve_token(s, audit_tok) is None
        c.cookies.clear()
        login = c.post("/login", data={"email": "sv@example.com", "password": NEW_PASSWORD})
        assert login.status_code != 303 or login.headers["location"] == "/login"
        r = runner.invoke(app, ["user", "deactivate", "sv@example.com"])
        assert r.exit_code == 0 and "already" in r.stdout
        assert runner.invoke(app, ["user", "activate", "sv@example.com"]).exit_code == 0
        assert c.post("/login", data={"email": "sv@example.com", "password": NEW_PASSWORD}
                      ).status_code == 303
    with rt.db.session() as s:
        assert all(t.revoked for t in s.scalars(select(ApiToken)))
        actions = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("user.%")).order_by(AuditEntry.id))]
        assert actions[-4:] == ["user.set_role", "user.deactivate", "user.deactivate",
                                "user.activate"]
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.set_role")).one()
        assert e.detail["before"]["role"] == "supervisor" and e.detail["after"]["role"] == \
            "auditor"


def test_the_last_admin_stays(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation  # rokuon init made admin@example.com
    r = runner.invoke(app, ["user", "deactivate", "admin@example.com"])
    assert r.exit_code == 1 and "only active admin" in r.output
    r = runner.invoke(app, ["user", "set-role", "admin@example.com", "--role", "operator"])
    assert r.exit_code == 1 and "only active admin" in r.output
    make_user(rt, "admin2@example.com", "admin")
    assert runner.invoke(app, ["user", "deactivate", "admin@example.com"]).exit_code == 0
    with rt.db.session() as s:
        u = s.scalars(select(User).where(User.email == "admin@example.com")).one()
        assert u.disabled is True


def test_list_reset_mfa_and_reset_password_from_the_cli(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    secret = make_user(rt, "sv@example.com", "supervisor", team="A")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", secret)
        r = runner.invoke(app, ["user", "reset-mfa", "sv@example.com", "--json"])
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout) == {"email": "sv@example.com", "mfa_was_enabled": True,
                                        "sessions_ended": 1}
        assert c.get("/api/scorecards").status_code == 401  # the session is gone
        # the password still works; the next step is enrolling a new authenticator
        r = c.post("/login", data={"email": "sv@example.com", "password": NEW_PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/mfa/setup"
    r = runner.invoke(app, ["user", "reset-password", "sv@example.com", "--json"])
    assert r.exit_code == 0, r.stderr
    otp = json.loads(r.stdout)["one_time_password"]
    with rt.db.session() as s:
        user = s.scalars(select(User).where(User.email == "sv@example.com")).one()
        assert user.must_change_password and not user.mfa_enabled
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        r = c.post("/login", data={"email": "sv@example.com", "password": NEW_PASSWORD})
        assert r.status_code != 303 or r.headers["location"] == "/login"  # old one is dead
        r = c.post("/login", data={"email": "sv@example.com", "password": otp})
        assert r.status_code == 303 and r.headers["location"] == "/password"
    r = runner.invoke(app, ["user", "list", "--json"])
    users = {u["email"]: u for u in json.loads(r.stdout)["users"]}
    assert users["sv@example.com"]["must_change_password"] is True
    assert runner.invoke(app, ["user", "reset-mfa", "nobody@example.com"]).exit_code == 1
