"""Sign-in under attack: TOTP guessing on every MFA route, the atomic lockout under
parallel requests, TOTP replay, the per-address throttle, password change with the
current password + MFA revoking the other sessions."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.store.models import AuditEntry, User, WebSession
from rokuon.users import throttle
from rokuon.users.service import AccountLocked, authenticate
from rokuon.web.app import create_app
from tests.web.conftest import NEW_PASSWORD, csrf_from, make_user, sign_in, totp_code

SV = "sv-a@example.com"


@pytest.fixture
def app_client(installation):  # type: ignore[no-untyped-def]
    _, rt = installation
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield rt, c


def _password_step(c: TestClient, email: str = SV) -> str:
    c.cookies.clear()
    r = c.post("/login", data={"email": email, "password": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/mfa", r.text
    return csrf_from(c.get("/mfa").text)


def _wrong(secret: str) -> str:
    """A well-formed code that is none of the accepted ones right now."""
    import time

    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    good = {totp.at((step + d) * 30) for d in (-1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in good)


def _lockouts(rt, factor: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return [e for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "auth.lockout")) if (e.detail or {}).get("factor") == factor]


def test_mfa_setup_is_closed_to_a_user_who_has_mfa(app_client) -> None:  # type: ignore[no-untyped-def]
    """Someone with only the password of an MFA account can neither re-enrol (replacing
    the secret and the recovery codes) nor guess codes through /mfa/setup."""
    rt, c = app_client
    secret = make_user(rt, SV, "supervisor", team="A")
    with rt.db.session() as s:
        before = s.scalars(select(User).where(User.email == SV)).one()
        wrapped, codes = before.mfa_secret, before.recovery_codes
    csrf = _password_step(c)
    assert c.get("/mfa/setup").headers["location"] == "/mfa"  # no new secret handed out
    for code in (pyotp.TOTP(secret).now(), "123456"):
        r = c.post("/mfa/setup", data={"code": code, "csrf": csrf})
        assert r.status_code == 403, r.text
    assert c.get("/api/calls").status_code == 403  # still only half signed in
    with rt.db.session() as s:
        after = s.scalars(select(User).where(User.email == SV)).one()
        assert (after.mfa_secret, after.recovery_codes) == (wrapped, codes)
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.mfa_enrol",
                                                     AuditEntry.outcome == "denied")).all()
    assert len(refused) == 2


def test_totp_guessing_locks_the_account(app_client) -> None:  # type: ignore[no-untyped-def]
    """Wrong codes are counted across sign-ins (a fresh password step does not reset
    them); the fifth locks the account, ends the half-signed-in session and is audited;
    then not even the right code or the right password gets in."""
    rt, c = app_client
    secret = make_user(rt, SV, "supervisor", team="A")
    bad = _wrong(secret)
    csrf = _password_step(c)
    for _ in range(3):
        assert c.post("/mfa", data={"code": bad, "csrf": csrf}).status_code == 401
    csrf = _password_step(c)  # the right password again: the MFA counter stays
    assert c.post("/mfa", data={"code": bad, "csrf": csrf}).status_code == 401
    r = c.post("/mfa", data={"code": bad, "csrf": csrf})
    assert r.status_code == 429 and "rokuon_session" not in c.cookies
    assert len(_lockouts(rt, "totp")) == 1
    with rt.db.session() as s:
        uid = s.scalars(select(User.id).where(User.email == SV)).one()
        assert not s.scalars(select(WebSession).where(WebSession.user_id == uid,
                                                      WebSession.mfa_passed.is_(False))).all()
    r = c.post("/mfa", data={"code": totp_code(secret), "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"  # session is gone
    r = c.post("/login", data={"email": SV, "password": NEW_PASSWORD})
    assert r.status_code == 429


def test_mfa_enrolment_guessing_is_limited_too(app_client) -> None:  # type: ignore[no-untyped-def]
    rt, c = app_client
    with rt.db.session() as s:
        from rokuon.access.principal import Principal
        from rokuon.users.service import create_user, set_password

        user, _ = create_user(s, Principal.cli(), "new-sv@example.com", "supervisor", "A")
        set_password(s, user, NEW_PASSWORD)
    c.post("/login", data={"email": "new-sv@example.com", "password": NEW_PASSWORD})
    page = c.get("/mfa/setup")
    csrf = csrf_from(page.text)
    codes = [c.post("/mfa/setup", data={"code": "000001", "csrf": csrf}).status_code
             for _ in range(5)]
    assert codes == [400, 400, 400, 400, 429]
    assert len(_lockouts(rt, "totp")) == 1


def test_totp_code_is_used_once(app_client) -> None:  # type: ignore[no-untyped-def]
    rt, c = app_client
    secret = make_user(rt, SV, "supervisor", team="A")
    code = totp_code(secret)
    csrf = _password_step(c)
    assert c.post("/mfa", data={"code": code, "csrf": csrf}).status_code == 303
    csrf = _password_step(c)
    r = c.post("/mfa", data={"code": code, "csrf": csrf})  # the same code again
    assert r.status_code == 401
    assert c.get("/api/calls").status_code == 403


def test_parallel_wrong_passwords_lock_the_account(installation) -> None:  # type: ignore[no-untyped-def]
    """50 wrong passwords from 25 threads (each its own database session, as parallel
    requests have): the account is locked, and the right password then fails."""
    _, rt = installation
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    start = threading.Barrier(25)

    def attempt(i: int) -> str:
        if i < 25:
            start.wait()
        with rt.db.session() as s:
            try:
                return "ok" if authenticate(s, "sato@example.com", f"wrong-{i}-password",
                                            f"10.0.0.{i}") else "failed"
            except AccountLocked:
                return "locked"

    with ThreadPoolExecutor(25) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert "ok" not in outcomes and outcomes.count("failed") >= 5
    with rt.db.session() as s, pytest.raises(AccountLocked):
        authenticate(s, "sato@example.com", NEW_PASSWORD, "10.0.0.99")
    assert _lockouts(rt, "password")


def test_one_address_is_throttled_across_accounts(app_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rt, c = app_client
    monkeypatch.setattr(throttle, "MAX_PER_ADDRESS", 4)
    for i in range(4):
        make_user(rt, f"op{i}@example.com", "operator")
    for i in range(4):  # one failure per account: no account is locked
        r = c.post("/login", data={"email": f"op{i}@example.com", "password": "x" * 12})
        assert r.status_code == 401
    r = c.post("/login", data={"email": "op0@example.com", "password": NEW_PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "rokuon_session" not in c.cookies


def test_password_change_needs_current_password_and_code_and_ends_other_sessions(
        installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    secret = make_user(rt, SV, "supervisor", team="A")
    app = create_app(rt, start_workers=False)
    with TestClient(app, follow_redirects=False) as a, \
            TestClient(app, follow_redirects=False) as b:
        sign_in(a, SV, secret)
        sign_in(b, SV, secret)
        csrf = csrf_from(a.get("/password").text)
        new = "another long passphrase 42"
        for data in ({"new_password": new},  # no current password
                     {"current_password": "wrong password!!", "new_password": new},
                     {"current_password": NEW_PASSWORD, "new_password": new}):  # no code
            r = a.post("/password", data={**data, "csrf": csrf})
            assert r.status_code == 400, (data, r.status_code)
        assert b.get("/api/calls").status_code == 200  # nothing changed yet
        old = a.cookies.get("rokuon_session")
        r = a.post("/password", data={"current_password": NEW_PASSWORD, "new_password": new,
                                      "code": totp_code(secret), "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert a.cookies.get("rokuon_session") != old
        assert a.get("/api/calls").status_code == 200  # the new session is fully signed in
        assert b.get("/api/calls").status_code == 401  # the other session is revoked
        a.cookies.clear()
        a.cookies.set("rokuon_session", old)
        assert a.get("/api/calls").status_code == 401
    with rt.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.sessions_revoked")
                      ).one()
        assert e.detail["sessions"] == 2


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_one_code_used_in_parallel_passes_once(installation, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The same TOTP code or recovery code sent by 8 parallel requests: one passes."""
    from rokuon.access.principal import Principal
    from rokuon.users import mfa, second_factor

    _, rt = installation
    secret = make_user(rt, SV, "supervisor", team="A")
    with rt.db.session() as s:
        user = s.scalars(select(User).where(User.email == SV)).one()
        codes = mfa.new_recovery_codes(user)
    code = totp_code(secret) if kind == "totp" else codes[0]
    gate = threading.Barrier(8)

    def attempt(i: int) -> bool:
        with rt.db.session() as s:
            u = s.scalars(select(User).where(User.email == SV)).one()
            gate.wait()
            try:
                return second_factor.verify_sign_in(
                    s, Principal(name=SV, role="supervisor", source=f"10.1.0.{i}"), u,
                    rt.keys, code)
            except AccountLocked:  # the replays count as failures: 5 lock the account
                return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert results.count(True) == 1, results
