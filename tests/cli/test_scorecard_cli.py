"""``rokuon scorecard``: show → edit → set round-trips, a bad file is refused with its
problems on one line and nothing saved, rescore --wait prints the deltas."""

from __future__ import annotations

import json
from pathlib import Path

from rokuon.scorecards import versions
from tests.cli.test_cli import run
from tests.scorecards.test_rescore import _call


def test_show_edit_set_rescore(installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    cid = _call(rt, 701)
    r = run("scorecard", "list", "--json")
    assert r.exit_code == 0, r.stderr
    assert "default_ja" in [c["name"] for c in json.loads(r.stdout)["scorecards"]]
    card = json.loads(run("scorecard", "show", "default_ja", "--json").stdout)
    assert card["version"] == 0

    broken = tmp_path / "bad.yaml"
    broken.write_text("title: x\npass_score: 200\ncriteria:\n  - id: a\n    type: nope\n",
                      encoding="utf-8")
    r = run("scorecard", "set", "default_ja", str(broken))
    assert r.exit_code == 1 and "pass_score" in r.stderr and "nope" in r.stderr
    assert r.stderr.count("\n") == 1
    (tmp_path / "junk.json").write_text("{oops", encoding="utf-8")
    r = run("scorecard", "set", "default_ja", str(tmp_path / "junk.json"))
    assert r.exit_code == 1 and "not valid JSON" in r.stderr
    with rt.db.session() as s:
        assert versions.current(s, rt.analysis_config)["default_ja"]["version"] == 0

    card["pass_score"] = 95
    card["criteria"] = [c for c in card["criteria"] if c["id"] != "greeting"]
    edited = tmp_path / "card.json"
    edited.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    r = run("scorecard", "set", "default_ja", str(edited), "--base-version", "0",
            "--note", "挨拶を外す", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["version"] == 1
    r = run("scorecard", "set", "default_ja", str(edited), "--base-version", "0")
    assert r.exit_code == 1 and "version 1" in r.stderr  # stale

    r = run("scorecard", "rescore", "default_ja", "--since", "2026-13-01")
    assert r.exit_code == 1 and "not a date" in r.stderr
    r = run("scorecard", "rescore", "default_ja", "--wait", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["run"]["status"] == "done" and doc["run"]["version"] == 1
    assert [d["call_id"] for d in doc["deltas"]] == [cid]
    assert doc["deltas"][0]["new_passed"] is False  # 95 is out of reach for this call
