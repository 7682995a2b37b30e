"""Search over Japanese segments: trigram index, short queries, normalisation,
filters, current transcript only, scope."""

from __future__ import annotations

from pathlib import Path

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.calls.service import CallFilter, search
from tests.helpers import tone_wav, write_transcript

CLI = Principal.cli()


def _call(rt, tmp_path: Path, seed: int, meta: str, lines):  # type: ignore[no-untyped-def]
    p = tmp_path / f"c{seed}.wav"
    p.write_bytes(tone_wav(1.0, seed=seed))
    p.with_suffix(".json").write_text(meta, encoding="utf-8")
    [r] = ingest_files(rt, [p], actor=CLI)
    write_transcript(rt, r.call_id, lines)
    return r.call_id


def _hits(rt, q: str, **f):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return search(s, CLI, q, CallFilter(**f), "Asia/Tokyo")


def test_japanese_search_and_filters(rt, tmp_path: Path) -> None:
    a = _call(rt, tmp_path, 41, '{"agent": "sato", "direction": "inbound", '
              '"started_at": "2026-11-01T10:00:00+09:00"}',
              [("agent", 0.5, 2.0, "お電話ありがとうございます"),
               ("customer", 2.5, 5.0, "解約の手続きをお願いします")])
    b = _call(rt, tmp_path, 42, '{"agent": "tanaka", "direction": "outbound", '
              '"started_at": "2026-11-20T10:00:00+09:00"}',
              [("agent", 0.5, 2.0, "キャンペーンのご案内です"),
               ("customer", 2.5, 4.0, "ＡＢＣプランの解約は？")])
    assert {h["call_id"] for h in _hits(rt, "解約")} == {a, b}  # 2 characters: scan
    assert [h["call_id"] for h in _hits(rt, "手続き")] == [a]  # trigram index
    assert [h["call_id"] for h in _hits(rt, "abcプラン")] == [b]  # width + case folded
    assert [h["call_id"] for h in _hits(rt, "きゃんぺーん")] == [b]  # kana folded
    assert [h["call_id"] for h in _hits(rt, "解約", agent="tanaka")] == [b]
    assert [h["call_id"] for h in _hits(rt, "解約", direction="inbound")] == [a]
    from datetime import date

    assert [h["call_id"] for h in _hits(rt, "解約", since=date(2026, 11, 10))] == [b]
    assert [h["call_id"] for h in _hits(rt, "解約", until=date(2026, 11, 10))] == [a]
    assert _hits(rt, "   ") == []
    # hostile input is just text
    assert _hits(rt, '" OR 1=1 --') == []
    assert _hits(rt, "%") == [] and _hits(rt, "_") == []


def test_operator_sees_only_own_calls(rt, tmp_path: Path) -> None:
    _call(rt, tmp_path, 43, '{"agent": "sato"}', [("agent", 0, 1, "料金プランの変更")])
    b = _call(rt, tmp_path, 44, '{"agent": "tanaka"}', [("agent", 0, 1, "料金プランの説明")])
    op = Principal(name="tanaka@example.com", role="operator", agent_name="tanaka")
    with rt.db.session() as s:
        hits = search(s, op, "料金プラン", CallFilter(), "Asia/Tokyo")
    assert [h["call_id"] for h in hits] == [b]


def test_search_by_reading_finds_what_asr_misspelt(rt, tmp_path: Path) -> None:
    """解約 heard as 開約: the query's reading (カイヤク) finds it, and the hit says so."""
    a = _call(rt, tmp_path, 45, '{"agent": "sato"}',
              [("customer", 0.5, 3.0, "開約したいんですけど")])
    b = _call(rt, tmp_path, 46, '{"agent": "sato"}',
              [("customer", 0.5, 3.0, "解約の手続きをお願いします")])
    c = _call(rt, tmp_path, 47, '{"agent": "sato"}',
              [("customer", 0.5, 3.0, "機会約束したはずです"),  # キカイ|ヤクソク: no
               ("agent", 3.5, 5.0, "他者の意見です")])  # 他者 is not 他社
    hits = {h["call_id"]: h["matched"] for h in _hits(rt, "解約")}
    assert hits == {a: "reading", b: "text"}
    assert c not in {h["call_id"] for h in _hits(rt, "解約")}
    assert _hits(rt, "他社") == []  # a homophone that is a word of its own
    # searching the misspelling finds the real word too
    assert {h["call_id"]: h["matched"] for h in _hits(rt, "開約")} == {a: "text", b: "reading"}
    # two morae (ヤク) are too short to search by sound: 役 does not find 約
    assert {h["call_id"] for h in _hits(rt, "約")} == {a, b, c}
    assert _hits(rt, "役") == []
    assert {h["call_id"]: h["matched"] for h in _hits(rt, "かいやく")} == {
        a: "reading", b: "reading"}


def test_existing_index_gets_readings(rt, tmp_path: Path) -> None:
    """Segments indexed before readings existed (no reading, nothing in the reading
    index: the state migration 0009 upgrades from) are found by reading after the
    migration's backfill."""
    import importlib.util

    from sqlalchemy import text

    from rokuon.store.migrate import MIGRATIONS_DIR

    a = _call(rt, tmp_path, 48, '{"agent": "sato"}',
              [("customer", 0.5, 3.0, "欲温はやめてください")])
    engine = rt.db.engine
    with engine.begin() as conn:
        conn.execute(text("UPDATE segments SET reading = NULL"))
        if engine.dialect.name == "sqlite":
            conn.execute(text("DELETE FROM segments_reading_fts"))
    assert [h["matched"] for h in _hits(rt, "ヨクオン")] == []
    spec = importlib.util.spec_from_file_location(
        "m0009", MIGRATIONS_DIR / "versions" / "0009_search_reading.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with engine.begin() as conn:
        mod._backfill(conn)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reading FROM segments")).scalar() == \
            "ヨクオンハヤメテクダサイ"
    assert [(h["call_id"], h["matched"]) for h in _hits(rt, "ヨクオン")] == [(a, "reading")]
    assert [h["call_id"] for h in _hits(rt, "欲温")] == [a]


def test_cli_api_and_ui_say_matched_by_reading(installation, tmp_path: Path) -> None:
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from rokuon.cli.main import app
    from rokuon.users.tokens import create_token
    from rokuon.web.app import create_app
    from tests.web.conftest import csrf_from, enrol_mfa

    res, rt = installation
    a = _call(rt, tmp_path, 49, '{"agent": "sato"}',
              [("customer", 0.5, 3.0, "開約したいんですけど")])
    out = CliRunner().invoke(app, ["search", "解約", "--json"], catch_exceptions=False)
    assert out.exit_code == 0
    assert json.loads(out.stdout)["hits"][0] | {"call_id": a, "matched": "reading"} == \
        json.loads(out.stdout)["hits"][0]
    out = CliRunner().invoke(app, ["search", "解約"], catch_exceptions=False)
    assert "開約したいんですけど  (matched by reading)" in out.stdout
    with rt.db.session() as s:
        token, _ = create_token(s, CLI, res.admin_email, ["calls:read"])
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        r = c.get("/api/search", params={"q": "解約"},
                  headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert [(h["call_id"], h["matched"]) for h in r.json()["hits"]] == [(a, "reading")]
        # the UI marks the hit (admin signs in: new password, MFA)
        c.post("/login", data={"email": res.admin_email, "password": res.admin_password})
        page = c.get("/password")
        c.post("/password", data={"current_password": res.admin_password,
                                  "new_password": "correct horse battery staple",
                                  "csrf": csrf_from(page.text)})
        enrol_mfa(c)
        html = c.get("/", params={"q": "解約"}).text
        assert "開約したいんですけど" in html and "読みで一致" in html
