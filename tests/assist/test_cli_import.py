"""`rokuon faq import | list | suggest` on a real installation: a good file is imported
(JSON counts), a bad one is refused with its line and leaves nothing behind, a second
import updates by question, --replace removes the rest; every change is in the
audit log, which still verifies."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from rokuon.access import audit
from rokuon.cli.main import app
from rokuon.store.models import AuditEntry
from rokuon.store.models_assist import FaqEntry

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _count(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return s.scalar(select(func.count(FaqEntry.id))) or 0


def test_import_list_suggest_and_a_bad_file(installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    bad = tmp_path / "bad.csv"
    # the first two rows are fine: nothing of them may be imported
    bad.write_text("question,answer\n解約したい,マイページから。\n住所を変えたい,変更できます\n"
                   "領収書,\n", encoding="utf-8")
    r = run("faq", "import", str(bad), "--json")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == "rokuon: bad.csv line 4: the answer is empty (question '領収書')\n"
    assert _count(rt) == 0

    r = run("faq", "import", "--defaults", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["file"] == "faq_ja.csv" and doc["added"] == doc["entries"] >= 30
    assert doc["updated"] == doc["removed"] == 0
    listed = json.loads(run("faq", "list", "--json").stdout)["entries"]
    assert len(listed) == doc["entries"] and listed[0]["created_by"].startswith("cli@")
    assert {"entry_id", "question", "answer", "tags", "language", "active",
            "updated_at"} <= set(listed[0])

    r = run("faq", "suggest", "えーと、開約したいんですけど", "--json")
    got = json.loads(r.stdout)
    assert got["text"] == "えーと、開約したいんですけど"
    assert got["suggestions"][0]["question"] == "解約の手続き方法を知りたい"
    assert got["suggestions"][0]["trigger"] == "えーと、開約したいんですけど"
    assert json.loads(run("faq", "suggest", "今日はほんとに暑いですね", "--json").stdout
                      )["suggestions"] == []

    md = tmp_path / "mine.md"
    md.write_text("## 解約の手続き方法を知りたい\n新しい回答です。\nTags: 解約\n\n"
                  "## 営業時間は？\n9時から18時です。\n", encoding="utf-8")
    r = run("faq", "import", str(md), "--replace", "--json")
    counts = json.loads(r.stdout)
    assert (counts["added"], counts["updated"], counts["entries"]) == (1, 1, 2)
    assert counts["removed"] == doc["entries"] - 1
    with rt.db.session() as s:
        answers = {e.question: e.answer for e in s.scalars(select(FaqEntry))}
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("faq.%")).order_by(AuditEntry.id)))
        assert audit.verify(s).ok
    assert answers == {"解約の手続き方法を知りたい": "新しい回答です。",
                       "営業時間は？": "9時から18時です。"}
    assert actions == ["faq.import", "faq.import"]  # the refused file left no record


def test_import_needs_one_source(installation) -> None:  # type: ignore[no-untyped-def]
    r = run("faq", "import")
    assert r.exit_code == 1 and r.stderr == "rokuon: give one FAQ file, or --defaults\n"
    assert "no FAQ entries" in run("faq", "list").stdout
