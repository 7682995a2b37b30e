"""The CLI contract: JSON on stdout, one-line errors on stderr, exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from rokuon.cli.main import app
from tests.helpers import tone_wav, write_transcript

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_prints_password_refuses_twice_and_protects_keys(settings) -> None:
    r = run("init", "--admin-email", "Boss@Example.com", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["admin_email"] == "boss@example.com" and len(doc["admin_password"]) >= 16
    key_mode = stat.S_IMODE(os.stat(settings.key_file).st_mode)
    assert key_mode == 0o600
    assert stat.S_IMODE(os.stat(settings.home).st_mode) == 0o700
    r2 = run("init")
    assert r2.exit_code != 0
    assert "already holds a rokuon installation" in r2.stderr
    assert r2.stderr.count("\n") == 1


def test_commands_before_init_say_so(settings) -> None:
    r = run("calls", "list", "--json")
    assert r.exit_code == 1 and "rokuon init" in r.stderr


def test_ingest_list_show_search_json(installation, tmp_path: Path) -> None:
    _, rt = installation
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    good.write_bytes(tone_wav(1.5, seed=31))
    bad.write_bytes(b"RIFF....not really")
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"agent": "鈴木", "direction": "outbound",
                                "started_at": "2026-11-27T15:00:00+09:00"}, ensure_ascii=False))
    r = run("ingest", str(good), str(bad), "--meta", str(meta), "--json")
    assert r.exit_code == 1  # one file failed
    doc = json.loads(r.stdout)
    by_file = {Path(c["file"]).name: c for c in doc["calls"]}
    assert by_file["good.wav"]["status"] == "stored"
    assert by_file["bad.wav"]["status"] == "error"
    assert "bad.wav" in r.stderr
    call_id = by_file["good.wav"]["call_id"]

    write_transcript(rt, call_id, [("agent", 0.2, 2.0, "お電話ありがとうございます、鈴木です"),
                                   ("customer", 2.3, 4.0, "請求書の件でお電話しました")])
    r = run("calls", "list", "--json")
    assert r.exit_code == 0
    [row] = json.loads(r.stdout)["calls"]
    assert row["call_id"] == call_id and row["agent"] == "鈴木" and row["status"] == "indexed"
    assert set(row) >= {"call_id", "started_at", "duration_s", "agent", "status", "qa_score"}
    assert "鈴木" in r.stdout  # UTF-8, not ASCII-escaped

    assert json.loads(run("calls", "list", "--since", "2026-11-28", "--json").stdout)[
        "calls"] == []
    assert len(json.loads(run("calls", "list", "--agent", "鈴木", "--direction", "outbound",
                              "--json").stdout)["calls"]) == 1
    assert run("calls", "list", "--since", "yesterday").exit_code == 1

    r = run("calls", "show", call_id, "--json")
    doc = json.loads(r.stdout)
    assert doc["call_id"] == call_id and doc["status"] == "indexed"
    assert doc["started_at"] == "2026-11-27T15:00:00+09:00"
    assert [s["speaker"] for s in doc["segments"]] == ["agent", "customer"]
    assert "metrics" in doc["analysis"]

    r = run("search", "請求書", "--json")
    hits = json.loads(r.stdout)["hits"]
    assert [(h["call_id"], h["speaker"], h["start"]) for h in hits] == [
        (call_id, "customer", 2.3)]
    assert json.loads(run("search", "存在しない言葉", "--json").stdout)["hits"] == []
    assert run("calls", "show", "nope", "--json").exit_code == 1


def test_user_add(installation) -> None:
    r = run("user", "add", "op@example.com", "--role", "operator", "--team", "A", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["role"] == "operator" and doc["one_time_password"]
    r = run("user", "add", "op@example.com", "--role", "operator")
    assert r.exit_code == 1 and "already exists" in r.stderr
    assert run("user", "add", "x@example.com", "--role", "king").exit_code == 1


def test_audit_verify_delete_and_rotate(installation, tmp_path: Path) -> None:
    from sqlalchemy import update

    from rokuon.store.models import AuditEntry

    _, rt = installation
    wav = tmp_path / "a.wav"
    wav.write_bytes(tone_wav(1.0, seed=33))
    call_id = json.loads(run("ingest", str(wav), "--json").stdout)["calls"][0]["call_id"]
    r = run("audit", "verify", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    assert run("audit", "checkpoint").exit_code == 0
    out = tmp_path / "cp.json"
    assert run("audit", "export-checkpoints", str(out)).exit_code == 0
    assert json.loads(out.read_text())["checkpoints"]

    r = run("keys", "rotate", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["rewrapped"] == 1
    assert run("calls", "delete", call_id).exit_code != 0  # --reason is required
    r = run("calls", "delete", call_id, "--reason", "test erasure", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["deleted"] is True
    assert run("calls", "show", call_id, "--json").exit_code == 1

    csv_path = tmp_path / "audit.csv"
    assert run("audit", "list", "--action", "call.", "--csv", str(csv_path)).exit_code == 0
    assert "call.delete" in csv_path.read_text()
    with rt.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.action == "call.ingest")
                  .values(actor="someone else"))
    r = run("audit", "verify", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["first_bad"] is not None
    assert "audit log broken at entry" in r.stderr


def test_token_create(installation) -> None:
    r = run("token", "create", "admin@example.com", "--scope", "calls:read", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["token"].startswith("rk_")
    r = run("token", "create", "admin@example.com", "--scope", "everything")
    assert r.exit_code == 1 and "unknown scope" in r.stderr
