"""Every byte of audio goes through the door: every Range form is checked for scope and
purpose and audited; the decoded-audio cache (used only for codecs a browser cannot
play, here IMA ADPCM) serves nothing after erasure, stop-use or retention deletion, and
is emptied then."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rokuon.access.principal import Principal
from rokuon.calls.erase import erase_call
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.store.models import AuditEntry, Call
from rokuon.web.app import create_app
from tests.access.test_security import _call
from tests.helpers import tone_wav
from tests.web.conftest import make_user, sign_in

RANGES = [None, "bytes=0-", "bytes=00-", "bytes=000-099", "bytes=0-99", "bytes=-100",
          "bytes=100-", "bytes=0-0,5-9", "bytes = 0-", "items=0-", "garbage"]


@pytest.fixture
def setup(installation):  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = ingest_stream(rt, [tone_wav(1.0, seed=91, subtype="IMA_ADPCM")], name="c91.wav",
                        actor=Principal.cli(), meta=parse_metadata(
                            '{"agent": "sato", "team": "A", "purposes": ["quality"]}')).call_id
    other = _call(rt, 92, '{"agent": "kato", "team": "B", "purposes": ["quality"]}')
    secret = make_user(rt, "co@example.com", "compliance")
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    app = create_app(rt, start_workers=False)
    with TestClient(app, follow_redirects=False) as c:
        yield rt, app, c, cid, other, secret


def _plays(rt, call_id: str, outcome: str | None = None) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "call.play", AuditEntry.object_id == call_id)
    if outcome:
        q = q.where(AuditEntry.outcome == outcome)
    with rt.db.session() as s:
        return int(s.scalar(q) or 0)


def _get(c: TestClient, call_id: str, rng: str | None, purpose: str = "quality"):  # type: ignore[no-untyped-def]
    return c.get(f"/api/calls/{call_id}/audio", params={"purpose": purpose},
                 headers={"Range": rng} if rng else {})


def test_every_range_form_is_checked_and_audited(setup) -> None:  # type: ignore[no-untyped-def]
    rt, app, c, cid, other, _ = setup
    sign_in(c, "sato@example.com", None)
    for rng in RANGES:  # own call: served, one audit row per request
        r = _get(c, cid, rng)
        assert r.status_code in (200, 206), (rng, r.status_code)
    assert _plays(rt, cid, "ok") == len(RANGES)
    for rng in RANGES:  # wrong purpose, with the audio in the cache: refused, audited
        assert _get(c, cid, rng, purpose="marketing").status_code == 403, rng
    assert _plays(rt, cid, "denied") == len(RANGES)
    for rng in RANGES:  # another agent's call: 404 whatever the Range, audited
        assert _get(c, other, rng).status_code == 404, rng
    assert _plays(rt, other, "denied") == len(RANGES)


def test_erased_call_is_not_served_from_the_cache(setup) -> None:  # type: ignore[no-untyped-def]
    rt, app, c, cid, _, _ = setup
    sign_in(c, "sato@example.com", None)
    full = _get(c, cid, None)
    assert full.status_code == 200 and len(app.state.audio_cache) == 1
    # erased elsewhere (CLI, retention, a data request): not through this API route
    erase_call(rt, Principal.cli(), cid, reason="erasure request 12")
    assert len(app.state.audio_cache) == 0
    for rng in ("bytes=00-", "bytes=0-", "bytes=100-", None):
        r = _get(c, cid, rng)
        assert r.status_code == 404 and r.content != full.content, rng
    assert _plays(rt, cid, "not_found") == 4


def test_stopped_call_is_not_served_from_the_cache(setup) -> None:  # type: ignore[no-untyped-def]
    from rokuon.compliance.dsar import stop_use

    rt, app, c, cid, _, secret = setup
    sign_in(c, "co@example.com", secret)
    assert _get(c, cid, None).status_code == 200 and len(app.state.audio_cache) == 1
    with rt.db.session() as s:
        stop_use(s, Principal.cli(), cid, reason="customer asked to stop use")
    assert len(app.state.audio_cache) == 0
    assert _get(c, cid, "bytes=00-").status_code == 403  # quality is no longer a purpose
    r = _get(c, cid, "bytes=00-", purpose="legal")
    assert r.status_code == 206
    assert len(app.state.audio_cache) == 0  # a stopped call's audio is never kept
    with rt.db.session() as s:
        assert s.get(Call, cid).use_stopped_at is not None


def test_retention_deletion_empties_the_cache(setup) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    from rokuon.compliance import retention
    from rokuon.store.models import utcnow

    rt, app, c, cid, other, secret = setup
    sign_in(c, "co@example.com", secret)
    assert _get(c, cid, None).status_code == 200 and len(app.state.audio_cache) == 1
    with rt.db.session() as s:
        s.execute(update(Call).values(created_at=utcnow() - timedelta(days=4000),
                                      started_at=utcnow() - timedelta(days=4000)))
    retention.run_retention(rt, Principal.cli())
    with rt.db.session() as s:
        gone = s.get(Call, cid) is None
    assert gone and len(app.state.audio_cache) == 0
    assert _get(c, cid, "bytes=00-").status_code == 404
