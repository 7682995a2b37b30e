"""Retention with and without legal holds, on calls dated in the past."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.cli.main import app
from rokuon.compliance.holds import add_hold, release_hold
from rokuon.compliance.retention import expires_at, retention_days, run_retention
from rokuon.store.models import Call, DeletionRecord, utcnow
from tests.helpers import tone_wav, write_transcript

CLI = Principal.cli()
runner = CliRunner()


def _call(rt, seed: int, days_ago: int, purposes: list[str], number: str = "0311112222"):  # type: ignore[no-untyped-def]
    started = (utcnow() - timedelta(days=days_ago)).isoformat()
    meta = parse_metadata(json.dumps({"started_at": started, "purposes": purposes,
                                      "customer_number": number, "agent": "sato"}))
    cid = ingest_stream(rt, [tone_wav(1.0, seed=seed)], name=f"r{seed}.wav", actor=CLI,
                        meta=meta).call_id
    write_transcript(rt, cid, [("customer", 0.1, 0.9, "解約の相談です")])
    return cid


def test_longest_policy_wins(rt) -> None:
    cid = _call(rt, 81, 10, ["quality", "dispute"])
    with rt.db.session() as s:
        call = s.get(Call, cid)
        days, policy = retention_days(call, rt.settings.retention_days, 365)
        assert (days, policy) == (1825, "dispute")
        assert expires_at(call, rt.settings.retention_days, 365) > utcnow()


def test_retention_deletes_expired_and_keeps_held(rt) -> None:
    old_quality = _call(rt, 82, 400, ["quality"])
    old_held = _call(rt, 83, 400, ["quality"], number="09099998888")
    old_dispute = _call(rt, 84, 400, ["quality", "dispute"])  # 5 years: not yet due
    recent = _call(rt, 85, 10, ["quality"])
    with rt.db.session() as s:
        hold = add_hold(s, CLI, reason="litigation 2026-17", customer_number="09099998888")
        hold_id = hold.id

    dry = run_retention(rt, CLI, dry_run=True)
    assert dry.deleted == [old_quality] and dry.held == [old_held]
    with rt.db.session() as s:
        assert s.get(Call, old_quality) is not None  # dry run changed nothing

    rep = run_retention(rt, CLI)
    assert rep.deleted == [old_quality] and rep.held == [old_held]
    with rt.db.session() as s:
        assert s.get(Call, old_quality) is None
        for keep in (old_held, old_dispute, recent):
            assert s.get(Call, keep) is not None
        rec = s.scalars(select(DeletionRecord).where(
            DeletionRecord.call_id == old_quality)).one()
        assert rec.policy == "retention:quality:365d" and rec.actor == CLI.name

    with rt.db.session() as s:
        release_hold(s, CLI, hold_id)
    assert run_retention(rt, CLI).deleted == [old_held]
    with rt.db.session() as s:
        assert audit.verify(s).ok


def test_hold_by_date_range_and_cli(rt) -> None:
    a = _call(rt, 86, 500, ["quality"])
    b = _call(rt, 87, 380, ["quality"])
    day_a = (utcnow() - timedelta(days=500)).date()
    r = runner.invoke(app, ["hold", "add", "--since", str(day_a - timedelta(days=1)),
                            "--until", str(day_a + timedelta(days=1)),
                            "--reason", "audit by regulator", "--json"])
    assert r.exit_code == 0, r.stderr
    hold_id = json.loads(r.stdout)["hold_id"]
    r = runner.invoke(app, ["retention", "run", "--json"])
    doc = json.loads(r.stdout)
    assert doc["deleted"] == [b] and doc["held"] == [a]
    r = runner.invoke(app, ["calls", "delete", a, "--reason", "erasure request"])
    assert r.exit_code == 1 and "legal hold" in r.stderr
    assert runner.invoke(app, ["hold", "release", str(hold_id)]).exit_code == 0
    assert runner.invoke(app, ["hold", "release", str(hold_id)]).exit_code == 1
    assert runner.invoke(app, ["hold", "add", "--reason", "x"]).exit_code == 1
    r = runner.invoke(app, ["hold", "add", "--call", "nope", "--reason", "x"])
    assert r.exit_code == 1 and "not found" in r.stderr
