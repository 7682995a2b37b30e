"""``rokuon export calls``: CSV with BOM / JSON Lines written only when complete, the
period, bad options named on one line with no file left behind, audited."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import select

from rokuon.store.models import AuditEntry
from tests.calls.test_export import T0, _seed
from tests.cli.test_cli import run


def test_export_calls_csv_and_jsonl(installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    ids = _seed(rt)
    out = tmp_path / "calls.csv"
    r = run("export", "calls", "--format", "csv", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {x["call_id"] for x in rows} == set(ids.values())
    assert "3 calls" in r.stderr

    day = T0.date().isoformat()
    jl = tmp_path / "calls.jsonl"
    r = run("export", "calls", "--format", "jsonl", "--since", day, "--until", day,
            "--out", str(jl))
    assert r.exit_code == 0, r.stderr
    docs = [json.loads(x) for x in jl.read_text(encoding="utf-8").splitlines()]
    assert [d["call_id"] for d in docs] == [ids["good"]]
    assert docs[0]["agent"] == "佐藤" and docs[0]["qa_score"] == 92
    with rt.db.session() as s:
        n = len(s.scalars(select(AuditEntry).where(AuditEntry.action == "call.export")).all())
    assert n == 2


def test_bad_options_are_named_and_leave_no_file(installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    where = tmp_path / "out"
    where.mkdir()
    out = where / "x.csv"
    r = run("export", "calls", "--format", "xlsx", "--out", str(out))
    assert r.exit_code == 1 and "format: 'xlsx'" in r.stderr and r.stderr.count("\n") == 1
    r = run("export", "calls", "--since", "yesterday", "--out", str(out))
    assert r.exit_code == 1 and "--since" in r.stderr
    r = run("export", "calls", "--out", str(where / "missing" / "x.csv"))
    assert r.exit_code == 1 and "does not exist" in r.stderr
    r = run("export", "calls", "--out", str(where))
    assert r.exit_code == 1 and "is a folder" in r.stderr
    assert list(where.iterdir()) == []
