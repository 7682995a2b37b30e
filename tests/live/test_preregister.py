"""Metadata registered ahead of an AudioSocket call: the stereo call replayed as two legs
takes what was registered for its UUID (agent, team, queue, purposes), a registration
is taken once, bad metadata and capture-owned keys are refused with the key named,
expired entries are not used, and only roles that may upload can register."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.live import preregister
from rokuon.live.replay import replay_audiosocket
from rokuon.store.models import LivePreregistration, Party, utcnow
from rokuon.web.app import create_app
from tests.live.test_audiosocket import CALL, _stored, servers  # noqa: F401 - the fixture
from tests.web.conftest import make_user, sign_in

ADMIN = Principal(name="admin@example.com", role="admin")


def test_a_registered_call_carries_its_metadata(servers) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    rt, make = servers
    srv = make()
    base = str(uuid.uuid4())
    with rt.db.session() as s:
        got = preregister.register(s, ADMIN, base[:-1], {
            "agent": "sato", "team": "A", "queue": "billing", "direction": "inbound",
            "customer_number": "0312345678", "purposes": ["quality", "training"]})
        assert got["metadata"]["agent"] == "sato"
    out = replay_audiosocket(CALL, "{}:{}".format(*srv.address), speed=0, uuid=base)
    _, call = _stored(rt, out["external_id"])
    assert (call.agent, call.queue, call.direction) == ("sato", "billing", "inbound")
    assert call.extra_metadata["team"] == "A"
    assert call.extra_metadata["audiosocket_uuids"]["agent"] == base[:-1] + "a"
    with rt.db.session() as s:
        assert s.scalars(select(LivePreregistration)).all() == []  # taken once
        roles = {p.channel: p.role for p in s.scalars(select(Party).where(
            Party.call_id == call.id))}
    assert roles == {0: "agent", 1: "customer"}
    # (a reconnect with the same UUIDs finds nothing registered: the entry is gone)


def test_bad_registrations_and_expiry(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        for key, meta, msg in (("bad key!", {}, "the key must be"),
                               ("k1", ["x"], "a JSON object"),
                               ("k1", {"agent": 5}, "agent"),
                               ("k1", {"external_id": "x"}, "set by the capture"),
                               ("k1", {"started_at": "yesterday"}, "started_at")):
            with pytest.raises(preregister.PreregisterError, match=msg):
                preregister.register(s, ADMIN, key, meta)
        preregister.register(s, ADMIN, "old", {"agent": "kato"})
        s.get(LivePreregistration, "old").expires_at = utcnow() - timedelta(seconds=1)
        assert preregister.claim(s, ["old"]) == {}  # expired: not used, and forgotten
        assert s.get(LivePreregistration, "old") is None
        preregister.register(s, ADMIN, "k2", {"agent": "kato"})
        preregister.register(s, ADMIN, "k2", {"agent": "suzuki"})  # the newest counts
        assert preregister.claim(s, ["nope", "k2"]) == {"agent": "suzuki"}


def test_over_http(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    sv = make_user(rt, "sv@example.com", "supervisor", team="A")
    make_user(rt, "au@example.com", "auditor")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sv@example.com", sv)
        h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
        key = "0f0e0d0c-0b0a-4908-8706-05040302010"
        assert c.put(f"/api/live/preregister/{key}", json={"agent": "sato"}
                     ).status_code == 403  # no CSRF token
        r = c.put(f"/api/live/preregister/{key}", json={"agent": "sato", "team": "A"},
                  headers=h)
        assert r.status_code == 200 and r.json()["metadata"]["team"] == "A"
        r = c.put(f"/api/live/preregister/{key}", json={"purposes": "quality"}, headers=h)
        assert r.status_code == 422 and "purposes" in r.json()["error"]
        assert c.put(f"/api/live/preregister/{key}", content=b"{", headers={
            **h, "content-type": "application/json"}).status_code == 422
        sign_in(c, "au@example.com", None)
        r = c.put(f"/api/live/preregister/{key}", json={"agent": "x"},
                  headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
        assert r.status_code == 403
