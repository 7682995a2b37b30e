from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from rokuon.web.app import create_app

NEW_PASSWORD = "correct horse battery staple"


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html) or \
        re.search(r'data-csrf="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture
def client(installation) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    _, rt = installation
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield c


_LAST_STEP: dict[str, int] = {}


def totp_code(secret: str) -> str:
    """A code the server accepts now: a TOTP time-step is used once per user (replay
    refused), so a test that signs the same user in twice within 30 s takes the next
    step (the server accepts ±1 step) — or waits for it, never a fixed sleep."""
    import time

    import pyotp

    while True:
        now = int(time.time() // 30)
        # the current step (not the previous one: it may expire before the server sees
        # it), or the next one when the current one was used already
        step = max(now, _LAST_STEP.get(secret, now - 1) + 1)
        if step <= now + 1:
            _LAST_STEP[secret] = step
            return pyotp.TOTP(secret).at(step * 30)
        time.sleep((now + 1) * 30 - time.time() + 0.05)


def enrol_mfa(client: TestClient) -> tuple[str, list[str]]:
    """Complete the MFA set-up page; returns (secret, recovery codes)."""
    page = client.get("/mfa/setup")
    assert page.status_code == 200 and "<svg" in page.text  # the QR code
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/mfa/setup", data={"code": totp_code(secret),
                                         "csrf": csrf_from(page.text)})
    assert r.status_code == 200, r.text
    codes = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", r.text)
    assert len(codes) == 8
    return secret, codes


@pytest.fixture
def signed_in(client: TestClient, installation) -> TestClient:  # type: ignore[no-untyped-def]
    """Admin signed in: one-time password changed, MFA enrolled; client.csrf, .totp set."""
    res, _ = installation
    r = client.post("/login", data={"email": res.admin_email, "password": res.admin_password})
    assert r.status_code == 303 and r.headers["location"] == "/password"
    page = client.get("/password")
    r = client.post("/password", data={"current_password": res.admin_password,
                                       "new_password": NEW_PASSWORD,
                                       "csrf": csrf_from(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/mfa/setup"
    client.totp, client.recovery = enrol_mfa(client)  # type: ignore[attr-defined]
    client.csrf = csrf_from(client.get("/").text)  # type: ignore[attr-defined]
    return client


def make_user(rt, email: str, role: str, *, team: str | None = None,  # type: ignore[no-untyped-def]
              agent_name: str | None = None) -> str | None:
    """A ready user (password set); privileged roles get MFA enrolled. Returns the TOTP
    secret (or None)."""
    from rokuon.access.principal import Principal
    from rokuon.users import mfa
    from rokuon.users.service import create_user, set_password

    with rt.db.session() as s:
        user, _ = create_user(s, Principal.cli(), email, role, team, agent_name)
        set_password(s, user, NEW_PASSWORD)
        if mfa.mfa_required(user):
            secret = mfa.new_secret(user, rt.keys)
            user.mfa_enabled = True
            return secret
    return None


def sign_in(client: TestClient, email: str, secret: str | None) -> TestClient:
    client.cookies.clear()
    r = client.post("/login", data={"email": email, "password": NEW_PASSWORD})
    assert r.status_code == 303, r.text
    if secret:
        page = client.get("/mfa")
        r = client.post("/mfa", data={"code": totp_code(secret),
                                      "csrf": csrf_from(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/"
    client.csrf = csrf_from(client.get("/").text)  # type: ignore[attr-defined]
    return client


@contextmanager
def live_server(rt, app=None) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app (``app``, or a new one without pipeline workers) under a real uvicorn in
    a thread (a real network round trip: what a browser sees, unlike TestClient, which
    waits for the whole app call)."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = app if app is not None else create_app(rt, start_workers=False)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    started = threading.Event()
    while not started.wait(0.02):
        if srv.started:
            started.set()
        elif not t.is_alive():
            raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(10)
