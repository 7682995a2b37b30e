"""Under a real server (uvicorn, real sockets): a request's database work is committed
before its response starts — the next sign-in step always finds its session, content
never arrives before its audit row — and 200 concurrent readers get no error."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
from sqlalchemy import event, func, select

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry
from rokuon.users.tokens import create_token
from tests.access.test_security import _call
from tests.web.conftest import live_server, make_user

SLOW_COMMIT_S = 0.4


@contextmanager
def slow_commits(rt) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Every commit takes a while (a busy disk): whatever is sent before the commit
    ends reaches the client first."""

    def slow(_session) -> None:  # type: ignore[no-untyped-def]
        time.sleep(SLOW_COMMIT_S)

    event.listen(rt.db.sessionmaker, "before_commit", slow)
    try:
        yield
    finally:
        event.remove(rt.db.sessionmaker, "before_commit", slow)


def _audit_count(rt, **where: str) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(AuditEntry)
    for k, v in where.items():
        q = q.where(getattr(AuditEntry, k) == v)
    with rt.db.session() as s:
        return int(s.scalar(q) or 0)


def test_sign_in_steps_never_bounce(installation) -> None:  # type: ignore[no-untyped-def]
    """POST /login → 303 /password, and GET /password right away finds the session
    (it used to bounce to /login about 1 time in 10: the session row was committed
    after the redirect had been sent)."""
    res, rt = installation
    with slow_commits(rt), live_server(rt) as base:
        for _ in range(3):
            with httpx.Client(base_url=base, follow_redirects=False) as h:
                r = h.post("/login", data={"email": res.admin_email,
                                           "password": res.admin_password})
                assert r.status_code == 303 and r.headers["location"] == "/password"
                r = h.get("/password")
                assert r.status_code == 200, r.headers.get("location")


def test_content_never_arrives_before_its_audit_row(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = _call(rt, 81, '{"agent": "sato", "purposes": ["quality"]}')
    make_user(rt, "co@example.com", "compliance")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "co@example.com",
                                ["calls:read", "audio:read"])
    h = {"Authorization": f"Bearer {token}"}
    with slow_commits(rt), live_server(rt) as base, \
            httpx.Client(base_url=base, headers=h) as c:
        for n, (path, action) in enumerate(((f"/api/calls/{cid}", "call.view"),
                                            (f"/api/calls/{cid}/audio?purpose=quality",
                                             "call.play")), start=1):
            r = c.get(path, headers={"Range": "bytes=00-"})
            assert r.status_code in (200, 206)
            assert _audit_count(rt, action=action, object_id=cid, outcome="ok") == 1, n


def test_200_concurrent_readers_get_no_error(installation, capsys) -> None:  # type: ignore[no-untyped-def]
    """200 readers at once (half with a session cookie, half with an API token; call
    page JSON and audio with a Range): every request succeeds and is audited."""
    _, rt = installation
    cid = _call(rt, 82, '{"agent": "sato", "purposes": ["quality"]}')
    secret = make_user(rt, "co@example.com", "compliance")
    with rt.db.session() as s:
        token, _ = create_token(s, Principal.cli(), "co@example.com",
                                ["calls:read", "audio:read"])
    n = 200
    with live_server(rt) as base:
        cookie = _cookie_session(base, "co@example.com", secret)
        before = _audit_count(rt)
        gate = threading.Barrier(n)

        def read(i: int) -> tuple[int, float]:
            auth = {"Authorization": f"Bearer {token}"} if i % 2 else {}
            cookies = {} if i % 2 else {"rokuon_session": cookie}
            path = (f"/api/calls/{cid}" if i % 4 < 2
                    else f"/api/calls/{cid}/audio?purpose=quality")
            with httpx.Client(base_url=base, headers=auth, cookies=cookies,
                              timeout=120) as c:
                gate.wait()
                t0 = time.perf_counter()
                try:
                    r = c.get(path, headers={"Range": "bytes=0-1023"})
                    status = r.status_code
                except httpx.HTTPError:
                    status = -1
                return status, time.perf_counter() - t0

        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(read, range(n)))
    errors = [s for s, _ in results if s not in (200, 206)]
    times = sorted(t for _, t in results)
    p95 = times[int(0.95 * (len(times) - 1))]
    with capsys.disabled():
        print(f"\n[200 concurrent readers, {rt.db.engine.dialect.name}] errors={len(errors)} "
              f"p50={statistics.median(times):.2f}s p95={p95:.2f}s max={times[-1]:.2f}s")
    assert errors == []
    assert _audit_count(rt) - before == n  # one audit row per read
    with rt.db.session() as s:
        assert audit.verify(s).ok


def _cookie_session(base: str, email: str, secret: str | None) -> str:
    import re

    from tests.web.conftest import NEW_PASSWORD, totp_code

    with httpx.Client(base_url=base, follow_redirects=False) as h:
        h.post("/login", data={"email": email, "password": NEW_PASSWORD})
        if secret:
            page = h.get("/mfa").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            r = h.post("/mfa", data={"code": totp_code(secret), "csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/"
        return h.cookies["rokuon_session"]
