"""Role boundaries, lockout, API tokens, the one door for every content route, IDOR,
break-glass, erasure (crypto-shred) and key rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.store.models import ApiToken, AuditEntry, Call, DeletionRecord, User, utcnow
from rokuon.users.tokens import create_token, revoke_token
from rokuon.web.app import create_app
from tests.helpers import tone_wav, write_transcript
from tests.web.conftest import NEW_PASSWORD, make_user, sign_in

CLI = Principal.cli()


def _call(rt, seed: int, meta: str, text: str = "お支払いの件でお電話しました"):  # type: ignore[no-untyped-def]
    cid = ingest_stream(rt, [tone_wav(1.0, seed=seed)], name=f"c{seed}.wav", actor=CLI,
                        meta=parse_metadata(meta)).call_id
    write_transcript(rt, cid, [("customer", 0.1, 0.9, text)])
    return cid


@pytest.fixture
def world(installation):  # type: ignore[no-untyped-def]
    """Two teams' calls and one user per role."""
    _, rt = installation
    calls = {
        "a_sato": _call(rt, 71, '{"agent": "sato", "team": "A", "purposes": ["quality"]}'),
        "b_kato": _call(rt, 72, '{"agent": "kato", "team": "B", "purposes": ["dispute"]}'),
    }
    secrets = {
        "op": make_user(rt, "sato@example.com", "operator", team="A", agent_name="sato"),
        "sv": make_user(rt, "sv-a@example.com", "supervisor", team="A"),
        "co": make_user(rt, "co@example.com", "compliance"),
        "au": make_user(rt, "au@example.com", "auditor"),
    }
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield rt, c, calls, secrets


def _ids(c: TestClient) -> set[str]:
    return {x["call_id"] for x in c.get("/api/calls").json()["calls"]}


def test_role_boundaries(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, calls, sec = world
    sign_in(c, "sato@example.com", sec["op"])
    assert _ids(c) == {calls["a_sato"]}
    assert c.get(f"/api/calls/{calls['b_kato']}").status_code == 404  # IDOR fails closed
    assert c.get("/api/search", params={"q": "お支払い"}).json()["hits"][0]["call_id"] == \
        calls["a_sato"]
    assert len(c.get("/api/search", params={"q": "お支払い"}).json()["hits"]) == 1
    assert c.get("/audit").status_code == 403
    r = c.delete(f"/api/calls/{calls['a_sato']}?reason=test",
                 headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403
    # an operator cannot break the glass
    glass = f"/api/calls/{calls['b_kato']}/break-glass"
    assert c.post(glass, json={"justification": "x" * 40},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 403  # type: ignore[attr-defined]
    assert c.get(f"/api/calls/{calls['b_kato']}").status_code == 404

    sign_in(c, "sv-a@example.com", sec["sv"])
    assert _ids(c) == {calls["a_sato"]}
    why = "customer escalated to me, ticket 4711, team B is off"
    # a GET (a link) cannot break the glass, whatever it carries
    r = c.get(f"/api/calls/{calls['b_kato']}", params={"break_glass": why})
    assert r.status_code == 404
    assert c.post(glass, json={"justification": "too short"},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 403  # type: ignore[attr-defined]
    assert c.post(glass, json={"justification": why}).status_code == 403  # no CSRF token
    r = c.post(glass, json={"justification": why},
               headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    r = c.get(f"/api/calls/{calls['b_kato']}")
    assert r.status_code == 200
    with rt.db.session() as s:
        bg = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "break_glass")).all()
        assert [e.action for e in bg] == ["call.break_glass", "call.view"]
        assert all(e.object_id == calls["b_kato"] and "ticket 4711" in
                   e.detail["justification"] for e in bg)

    sign_in(c, "co@example.com", sec["co"])
    assert _ids(c) == set(calls.values())
    sign_in(c, "au@example.com", sec["au"])
    assert _ids(c) == set()
    assert c.get(f"/api/calls/{calls['a_sato']}").status_code == 403  # no call content
    assert c.get("/audit").status_code == 200
    csv = c.get("/audit.csv")
    assert csv.status_code == 200 and "call.view" in csv.text


def test_purpose_must_be_one_of_the_calls(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, calls, sec = world
    sign_in(c, "co@example.com", sec["co"])
    url = f"/api/calls/{calls['b_kato']}/audio"
    assert c.get(url, params={"purpose": "quality"}).status_code == 403
    assert c.get(url, params={"purpose": "dispute"}).status_code == 200
    with rt.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "call.play",
                                               AuditEntry.outcome == "ok")).one()
        assert e.purpose == "dispute" and e.actor == "co@example.com"


def test_brute_force_locks_the_account(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, _, _ = world
    for _ in range(5):
        assert c.post("/login", data={"email": "sato@example.com",
                                      "password": "wrong-password!"}).status_code == 401
    r = c.post("/login", data={"email": "sato@example.com", "password": NEW_PASSWORD})
    assert r.status_code == 429 and "rokuon_session" not in r.cookies
    with rt.db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.lockout")).all()
        s.execute(update(User).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert c.post("/login", data={"email": "sato@example.com",
                                  "password": NEW_PASSWORD}).status_code == 303


def test_api_tokens_scoped_expiring_revocable(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, calls, _ = world
    with rt.db.session() as s:
        read, row = create_token(s, CLI, "co@example.com", ["calls:read"], days=1)
        write, _ = create_token(s, CLI, "co@example.com", ["calls:write"], days=1)
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert read not in stored  # only the hash is kept
    c.cookies.clear()
    h = {"Authorization": f"Bearer {read}"}
    assert _ids_with(c, h) == set(calls.values())
    assert c.get(f"/api/calls/{calls['a_sato']}/audio?purpose=quality",
                 headers=h).status_code == 403  # lacks audio:read
    r = c.post("/api/calls?filename=x.wav", content=tone_wav(1.0, seed=73), headers=h)
    assert r.status_code == 403  # lacks calls:write
    r = c.post("/api/calls?filename=x.wav", content=tone_wav(1.0, seed=73),
               headers={"Authorization": f"Bearer {write}"})
    assert r.status_code == 201  # no CSRF needed without cookies
    assert c.get("/api/calls", headers={"Authorization": "Bearer rk_nope"}).status_code == 401
    with rt.db.session() as s:
        s.execute(update(ApiToken).where(ApiToken.id == row.id)
                  .values(expires_at=utcnow() - timedelta(minutes=1)))
    assert c.get("/api/calls", headers=h).status_code == 401  # expired
    with rt.db.session() as s:
        read2, row2 = create_token(s, CLI, "co@example.com", ["calls:read"], days=1)
        revoke_token(s, CLI, row2.id)
    assert c.get("/api/calls", headers={"Authorization": f"Bearer {read2}"}).status_code == 401


def _ids_with(c: TestClient, h: dict[str, str]) -> set[str]:
    return {x["call_id"] for x in c.get("/api/calls", headers=h).json()["calls"]}


# routes on calls in progress: scoped by door.in_scope, the same rule as scope_filter
LIVE_CONTROL = {"/api/calls/{call_id}/pause", "/api/calls/{call_id}/resume"}


def test_every_call_content_route_goes_through_the_door(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Enumerate the app's routes: each one that takes a call id must call the door's
    get_call, and fail closed for another team's call; each listing must use the
    scope filter."""
    rt, c, calls, sec = world
    paths = create_app(rt, start_workers=False).openapi()["paths"]  # every route
    with_id = [(p, m.upper()) for p, ops in paths.items() if "{call_id}" in p for m in ops]
    listings = [p for p in paths if p in ("/", "/api/calls", "/api/search")]
    assert {p for p, _ in with_id} >= {"/api/calls/{call_id}", "/api/calls/{call_id}/audio",
                                        "/calls/{call_id}"}
    assert len(listings) == 3
    seen: list[str] = []
    real_get, real_scope = door.get_call, door.scope_filter

    def spy_get(*a, **k):  # type: ignore[no-untyped-def]
        seen.append("get_call")
        return real_get(*a, **k)

    def spy_scope(*a, **k):  # type: ignore[no-untyped-def]
        seen.append("scope_filter")
        return real_scope(*a, **k)

    import rokuon.web.api as api_module

    monkeypatch.setattr(api_module, "get_call", spy_get)  # imported by name there
    monkeypatch.setattr(door, "get_call", spy_get)
    monkeypatch.setattr(door, "scope_filter", spy_scope)
    sign_in(c, "sato@example.com", sec["op"])
    other = calls["b_kato"]
    for path, method in with_id:
        seen.clear()
        url = path.replace("{call_id}", other).replace("{comment_id}", "1") \
            .replace("{criterion}", "greeting")
        resp = c.request(method, url, params={"purpose": "quality", "reason": "x" * 5},
                         json={"justification": "x" * 30} if method == "POST" else None,
                         headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
        assert resp.status_code in (403, 404), (method, url, resp.status_code)
        if path.endswith("/break-glass"):
            continue  # the door's open_break_glass refuses an operator by role
        if path in LIVE_CONTROL:
            continue  # a live call is not a row yet: door.in_scope (tests/live) decides
        if path.endswith("/qa/{criterion}"):
            assert resp.status_code == 403  # an operator may not coach: refused by role
            continue
        if "/disclosure-reviews/" in path or "/review/" in path:
            # reviewing a disclosure package needs the export permission: an operator
            # is refused by role before any call is read (the review names its calls)
            assert resp.status_code == 403, (method, url, resp.status_code)
            continue
        if method != "DELETE":  # erasure is refused by role before any content is read
            assert "get_call" in seen, f"{method} {path} does not pass the door"
    for path in listings:
        seen.clear()
        resp = c.get(path, params={"q": "お支払い"})
        assert resp.status_code == 200 and other not in resp.text
        assert "scope_filter" in seen, f"{path} does not use the scope filter"
    with rt.db.session() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.object_id == other,
                                                    AuditEntry.outcome == "denied")).all()
    assert len(denied) >= 3


def test_erased_call_is_gone_everywhere(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, calls, sec = world
    cid = calls["a_sato"]
    with rt.db.session() as s:
        blob_key = s.get(Call, cid).blob_key
    assert rt.blobs.exists(blob_key)
    sign_in(c, "co@example.com", sec["co"])
    r = c.delete(f"/api/calls/{cid}", params={"reason": "erasure request #12"},
                 headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert c.get(f"/api/calls/{cid}").status_code == 404
    assert c.get(f"/api/calls/{cid}/audio?purpose=quality").status_code == 404
    assert c.get(f"/calls/{cid}").status_code == 404
    assert all(h["call_id"] != cid for h in
               c.get("/api/search", params={"q": "お支払い"}).json()["hits"])
    assert not rt.blobs.exists(blob_key)
    with rt.db.session() as s:
        rec = s.scalars(select(DeletionRecord).where(DeletionRecord.call_id == cid)).one()
        assert rec.reason == "erasure request #12" and rec.actor == "co@example.com"
        assert "sato" not in str(vars(rec))  # no personal data in the record
        from sqlalchemy import text

        if s.get_bind().dialect.name == "sqlite":
            assert s.execute(text("SELECT count(*) FROM segments_fts WHERE call_id = :c"),
                             {"c": cid}).scalar() == 0
    with rt.db.session() as s:
        from rokuon.access import audit

        assert audit.verify(s).ok


def test_legal_hold_blocks_erasure(installation) -> None:  # type: ignore[no-untyped-def]
    from rokuon.calls.erase import EraseRefused, erase_call

    _, rt = installation
    cid = _call(rt, 74, '{"agent": "sato", "legal_hold": "litigation 2026-17"}')
    with pytest.raises(EraseRefused, match="legal hold"):
        erase_call(rt, CLI, cid, reason="retention")
    with rt.db.session() as s:
        assert s.get(Call, cid) is not None


def test_kek_rotation_rewraps_without_touching_audio(installation) -> None:  # type: ignore[no-untyped-def]
    from rokuon.store.keys import WrappedKey
    from rokuon.store.rotation import rotate_kek

    _, rt = installation
    cid = _call(rt, 75, '{"agent": "sato"}')
    with rt.db.session() as s:
        call = s.get(Call, cid)
        old = WrappedKey.from_json(call.wrapped_key)
        key, sha = call.blob_key, call.content_sha256
    blob_bytes = (rt.settings.blob_dir / key).read_bytes()
    new_id, n = rotate_kek(rt, CLI)
    assert n == 1 and new_id != old.kek_id
    with rt.db.session() as s:
        w = WrappedKey.from_json(s.get(Call, cid).wrapped_key)
    assert w.kek_id == new_id
    assert (rt.settings.blob_dir / key).read_bytes() == blob_bytes  # audio not re-encrypted
    assert rt.blobs.read_all(key, w, expected_sha256=sha)


def test_cli_content_commands_pass_the_door(installation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every CLI command that returns call content goes through the door (and is audited
    as the local administrator)."""
    from typer.testing import CliRunner

    from rokuon.cli.main import app

    _, rt = installation
    cid = _call(rt, 76, '{"agent": "sato"}')
    seen: list[str] = []
    real_get, real_scope = door.get_call, door.scope_filter
    monkeypatch.setattr(door, "get_call", lambda *a, **k: seen.append("get") or
                        real_get(*a, **k))
    monkeypatch.setattr(door, "scope_filter", lambda *a, **k: seen.append("scope") or
                        real_scope(*a, **k))
    runner = CliRunner()
    for args, expect in ((["calls", "show", cid, "--json"], "get"),
                         (["calls", "list", "--json"], "scope"),
                         (["search", "お支払い", "--json"], "scope")):
        seen.clear()
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.stderr
        assert expect in seen, args
    with rt.db.session() as s:
        actions = {e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.actor.startswith("cli@")))}
    assert {"call.view", "call.list", "call.search"} <= actions


def test_no_session_fixation(world) -> None:  # type: ignore[no-untyped-def]
    rt, c, _, sec = world
    c.cookies.set("rokuon_session", "attacker-chosen-value")
    sign_in(c, "sato@example.com", sec["op"])
    assert c.cookies.get("rokuon_session") != "attacker-chosen-value"
    old = c.cookies.get("rokuon_session")
    c.post("/logout", data={"csrf": c.csrf})  # type: ignore[attr-defined]
    c.cookies.set("rokuon_session", old)
    assert c.get("/api/calls").status_code == 401  # the old id is dead after sign-out


def test_tls_serving_sends_hsts_and_secure_cookies(installation, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import socket
    import threading
    import time

    import httpx
    import uvicorn
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    res, rt = installation
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(rt, start_workers=False), host="127.0.0.1",
                                        port=port, ssl_certfile=str(certfile),
                                        ssl_keyfile=str(keyfile), log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    try:
        for _ in range(100):
            if srv.started:
                break
            time.sleep(0.05)
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=False) as h:
            r = h.get("/login")
            assert r.status_code == 200
            assert r.headers["strict-transport-security"].startswith("max-age=")
            r = h.post("/login", data={"email": res.admin_email,
                                       "password": res.admin_password})
            cookie = r.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    finally:
        srv.should_exit = True
        t.join(10)
