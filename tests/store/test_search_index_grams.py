"""The gram index: 1- and 2-character queries use an index on both databases, the
database function and the Python writer agree, and migration 0023 backfills."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import text

from rokuon.access.principal import Principal
from rokuon.calls.service import CallFilter, search
from rokuon.store import search_index
from tests.calls.test_search import _call

CLI = Principal.cli()


def _ids(rt, q: str) -> set[str]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return {h["call_id"] for h in search(s, CLI, q, CallFilter(), "Asia/Tokyo")}


def test_grams_are_characters_and_pairs() -> None:
    assert search_index.grams("解約円") == {"解", "約", "円", "解約", "約円"}
    assert search_index.grams("") == set()
    tok = search_index.gram_token("円?")
    assert tok.isalnum() and tok.startswith("g")  # punctuation never splits a gram


def test_short_queries_use_the_gram_index(rt, tmp_path: Path) -> None:
    a = _call(rt, tmp_path, 61, '{"agent": "sato"}', [("customer", 0, 2, "料金は千円です?")])
    b = _call(rt, tmp_path, 62, '{"agent": "sato"}', [("agent", 0, 2, "録音を開始します")])
    assert _ids(rt, "円") == {a}
    assert _ids(rt, "録音") == {b}
    assert _ids(rt, "す?") == {a}  # a pair with punctuation
    assert _ids(rt, "?") == {a}
    assert _ids(rt, "音円") == set()
    engine = rt.db.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            n = conn.execute(text("SELECT count(*) FROM segments_gram_fts WHERE "
                                  "segments_gram_fts MATCH :g"),
                             {"g": search_index.gram_token("録音")}).scalar()
            assert n == 1
        else:
            py = sorted(search_index.grams("料金は千円です?"))
            db = conn.execute(text("SELECT rokuon_grams(CAST(:t AS text))"),
                              {"t": "料金は千円です?"}).scalar()
            assert sorted(db) == py
            conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(r[0] for r in conn.execute(text(
                "EXPLAIN SELECT id FROM segments "
                "WHERE rokuon_grams(segments.norm_text) @> ARRAY[CAST(:g AS text)]"),
                {"g": "録音"}))
            assert "ix_segments_norm_text_grams" in plan
    # erasing a call empties its gram entries
    with rt.db.session() as s:
        search_index.drop_call(s, b)
        s.commit()
    if engine.dialect.name == "sqlite":
        assert _ids(rt, "録音") == set()


def test_migration_backfills_existing_segments(rt, tmp_path: Path) -> None:
    from rokuon.store.migrate import MIGRATIONS_DIR

    a = _call(rt, tmp_path, 63, '{"agent": "sato"}', [("customer", 0, 2, "解約します")])
    engine = rt.db.engine
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL: the expression index is the backfill (tested above)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM segments_gram_fts"))
    assert _ids(rt, "約") == set()  # too short to search by sound
    spec = importlib.util.spec_from_file_location(
        "m0023", MIGRATIONS_DIR / "versions" / "0023_search_ngrams.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with engine.begin() as conn:
        mod._backfill(conn)
    assert _ids(rt, "約") == {a}
