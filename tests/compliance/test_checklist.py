"""The security checklist: technical items proven from the live system, the rest
attested (and the attestation lands in the audit log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.cli.main import app
from rokuon.compliance import checklist
from rokuon.compliance.backup import create_backup
from rokuon.compliance.retention import run_retention
from rokuon.store.models import AuditEntry, User
from tests.web.conftest import make_user

CLI = Principal.cli()


def items(rep: dict) -> dict[str, dict]:
    return {i["id"]: i for c in rep["categories"] for i in c["items"]}


def test_items_are_proven_from_the_system(rt, tmp_path: Path) -> None:
    make_user(rt, "sv@example.com", "supervisor", team="a")
    rep = items(checklist.build(rt, CLI))
    assert rep["audit_chain"]["ok"] is True
    # the first admin from `rokuon init` has not enrolled MFA yet: 1 of 2
    assert rep["mfa_privileged"]["ok"] is False
    assert rep["mfa_privileged"]["evidence"].startswith("1 of 2")
    with rt.db.session() as s:
        s.execute(update(User).values(mfa_enabled=True))
    assert items(checklist.build(rt, CLI))["mfa_privileged"]["ok"] is True
    assert rep["backup_verified"]["ok"] is False and "no verified backup" in \
        rep["backup_verified"]["evidence"]
    assert rep["retention_runs"]["ok"] is False
    assert rep["staff_training"]["ok"] is None  # not attested yet
    # make a backup, verify it through the CLI, run retention → proven
    out = tmp_path / "b.zip"
    create_backup(rt, out, CLI)
    r = CliRunner().invoke(app, ["backup", "verify", str(out)])
    assert r.exit_code == 0, r.stderr
    run_retention(rt, CLI)
    rep = items(checklist.build(rt, CLI))
    assert rep["backup_verified"]["ok"] and rep["retention_runs"]["ok"]


def test_mfa_gap_and_broken_chain_show_as_failed(rt) -> None:
    make_user(rt, "admin2@example.com", "admin")
    with rt.db.session() as s:
        s.execute(update(User).where(User.email == "admin2@example.com")
                  .values(mfa_enabled=False))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(actor="mallory"))
    rep = items(checklist.build(rt, CLI))
    assert rep["mfa_privileged"]["ok"] is False and "of" in rep["mfa_privileged"]["evidence"]
    assert rep["audit_chain"]["ok"] is False


def test_attestation_and_outputs(rt, tmp_path: Path) -> None:
    with rt.db.session() as s:
        checklist.attest(s, CLI, "staff_training", "2026-11 全員受講（eラーニング）")
        with pytest.raises(checklist.ChecklistError, match="unknown checklist item"):
            checklist.attest(s, CLI, "nope", "x")
        with pytest.raises(checklist.ChecklistError, match="only an admin"):
            checklist.attest(s, Principal(name="op", role="operator"), "staff_training", "x")
    rep = checklist.build(rt, CLI)
    t = items(rep)["staff_training"]
    assert t["ok"] is True and t["by"] == CLI.name and "eラーニング" in t["evidence"]
    assert {c["id"] for c in rep["categories"]} == {"organisational", "human", "physical",
                                                    "technical"}
    page = checklist.to_html(rep, "ja")
    assert "技術的安全管理措置" in page and "<script" not in page
    assert checklist.to_pdf(rep).startswith(b"%PDF")
    r = CliRunner().invoke(app, ["compliance", "report", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["summary"]["ok"] >= 1
    r = CliRunner().invoke(app, ["compliance", "report", "--format", "pdf"])
    assert r.exit_code == 1 and "--out" in r.stderr
    with pytest.raises(checklist.ChecklistError):
        checklist.build(rt, Principal(name="op", role="operator"))
