"""``rokuon bench scale --calls N``: search and the call list at scale. Seeds N
synthetic calls (about 30 utterances each, 200 agents in 20 teams; call rows,
current transcripts, segments with readings, search index rows — no audio, no analysis
rows) into the installation at ROKUON_HOME / ROKUON_DATABASE_URL through rokuon's own
tables and search index, and prints p50/p95 of search
(1-, 2-, 3+-character queries, filtered by date/agent/team, a phrase in every call,
the next page by cursor) and of the call list (first page, a deep page)."""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer

from rokuon.cli.bench import bench_app
from rokuon.cli.output import JsonOpt, emit_json, fail

BATCH = 500
EVERY_CALL = "お電話ありがとうございます"
LINES = ["解約の手続きをお願いします", "料金は三千円です", "録音を開始します",
         "プランの変更について", "少々お待ちください", "住所の変更をしたいです",
         "ポイントの残高を教えてください", "担当者に確認いたします", "請求書が届きません",
         "支払い方法を変えたい", "キャンペーンのご案内です", "ご本人様確認をお願いします"]


def _seed(rt: Any, n: int, per_call: int, days: int, rng: random.Random) -> float:
    from sqlalchemy import insert, text

    from rokuon.reports.synthetic import call_row
    from rokuon.store import search_index
    from rokuon.store.models import Call, Segment, Transcript
    from rokuon.text.normalize import normalize
    from rokuon.text.readings import reading

    cache = {s: (normalize(s), reading(s).text_reading()) for s in [EVERY_CALL, *LINES]}
    sqlite = rt.db.engine.dialect.name == "sqlite"
    now = datetime.now(UTC)
    span = timedelta(days=days).total_seconds()
    t0 = time.perf_counter()
    for a in range(0, n, BATCH):
        with rt.db.session() as s:
            calls = []
            for i in range(a, min(n, a + BATCH)):
                agent = rng.randrange(200)
                calls.append(call_row(started_at=now - timedelta(seconds=span * (i + .5) / n),
                                      duration_s=300.0, agent=f"agent{agent:03d}",
                                      team=f"T{agent % 20:02d}"))
            s.execute(insert(Call), calls)
            trs = s.execute(insert(Transcript).returning(Transcript.id, Transcript.call_id),
                            [{"call_id": c["id"], "version": 1, "is_current": True,
                              "engine": "synthetic", "model": "none", "language": "ja",
                              "created_at": now} for c in calls]).all()
            segs = []
            for tid, cid in trs:
                for k in range(per_call):
                    line = EVERY_CALL if k == 0 else rng.choice(LINES)
                    norm, rd = cache[line]
                    segs.append({"transcript_id": tid, "call_id": cid, "idx": k,
                                 "speaker": "agent" if k % 2 == 0 else "customer",
                                 "channel": k % 2, "start": k * 10.0, "end": k * 10.0 + 8,
                                 "text": line, "norm_text": norm, "reading": rd,
                                 "confidence": 0.9, "words": [[line, k * 10.0,
                                                               k * 10.0 + 8, 0.9]]})
            ids = s.execute(insert(Segment).returning(Segment.id), segs).scalars().all()
            if sqlite:
                rows = [{"i": i, "c": g["call_id"], "t": g["norm_text"], "r": g["reading"],
                         "g": search_index.gram_document(g["norm_text"])}
                        for i, g in zip(ids, segs, strict=True)]
                for table, col, key in (("segments_fts", "norm_text", "t"),
                                        ("segments_reading_fts", "reading", "r"),
                                        ("segments_gram_fts", "grams", "g")):
                    s.execute(text(f"INSERT INTO {table} ({col}, segment_id, call_id) "
                                   f"VALUES (:{key}, :i, :c)"), rows)
            s.commit()
        print(f"  seeded {min(n, a + BATCH)}/{n} calls ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr, flush=True)
    if not sqlite:
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


def _p(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 1)}


def _measure(rt: Any, repeat: int) -> dict[str, dict[str, float]]:
    from rokuon.access.principal import Principal
    from rokuon.calls.listing import PAGE_SIZE, CallFilter, page
    from rokuon.calls.service import search_page

    cli = Principal.cli()
    tz = rt.settings.timezone
    today = datetime.now(UTC).date()
    week = today - timedelta(days=7)
    cases: dict[str, Any] = {
        "search 1 char 円": ("円", CallFilter(limit=50)),
        "search 2 chars 解約": ("解約", CallFilter(limit=50)),
        "search 2 chars 録音, last 7 days": ("録音", CallFilter(limit=50, since=week)),
        "search 3+ chars 住所の変更": ("住所の変更", CallFilter(limit=50)),
        "search 解約, agent": ("解約", CallFilter(limit=50, agent="agent007")),
        "search 解約, team": ("解約", CallFilter(limit=50, team="T03")),
        "search phrase in every call": (EVERY_CALL, CallFilter(limit=50)),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (q, f) in cases.items():
        times = []
        for _ in range(repeat):
            with rt.db.session() as s:
                t = time.perf_counter()
                res = search_page(s, cli, q, f, tz)
                times.append(time.perf_counter() - t)
                s.rollback()
        out[name] = _p(times) | {"total": res["total"]}
        if name == "search phrase in every call" and res["next_cursor"]:
            times = []
            for _ in range(repeat):
                with rt.db.session() as s:
                    t = time.perf_counter()
                    search_page(s, cli, q, f, tz, cursor=res["next_cursor"], with_total=False)
                    times.append(time.perf_counter() - t)
                    s.rollback()
            out["search next page (cursor)"] = _p(times)
    for name, off in (("call list first page", 0), ("call list page 100", 99 * PAGE_SIZE)):
        times = []
        for _ in range(repeat):
            with rt.db.session() as s:
                t = time.perf_counter()
                page(s, cli, CallFilter(limit=PAGE_SIZE, offset=off), tz)
                times.append(time.perf_counter() - t)
                s.rollback()
        out[name] = _p(times)
    return out


class NotEmptyError(RuntimeError):
    """The installation already holds calls (bench scale adds to an empty one)."""


def run_scale(calls: int, *, per_call: int = 30, days: int = 90,
              database_url: str | None = None, repeat: int = 20,
              force: bool = False) -> dict[str, Any]:
    """Seed into the installation at ROKUON_HOME / ROKUON_DATABASE_URL (created when
    missing) and measure; the synthetic calls stay there (``synthetic`` in their
    metadata)."""
    from sqlalchemy import func, select

    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime
    from rokuon.store.models import Call

    if database_url:
        os.environ["ROKUON_DATABASE_URL"] = database_url
    settings = load_settings()
    if not settings.config_file.exists():
        init_installation(settings, "root@example.com")
    rt = open_runtime(load_settings())
    try:
        with rt.db.session() as s:
            have = s.scalar(select(func.count()).select_from(Call)) or 0
        if have and not force:
            raise NotEmptyError(f"the installation at {settings.home} already holds {have} "
                                "calls; use an empty one or pass --force")
        seed_s = _seed(rt, calls, per_call, days, random.Random(have))
        res = _measure(rt, repeat)
        db = rt.db.engine.dialect.name
    finally:
        rt.close()
    return {"calls": calls, "utterances": calls * per_call, "seed_s": round(seed_s, 1),
            "database": db, "paths": res, "measured": date.today().isoformat()}


@bench_app.command("scale")
def scale(
    calls: Annotated[int, typer.Option(help="Synthetic calls to seed.")] = 10_000,
    per_call: Annotated[int, typer.Option(help="Utterances per call.")] = 30,
    database_url: Annotated[str | None, typer.Option(
        help="An empty PostgreSQL database (default: SQLite in a temporary home).")] = None,
    repeat: Annotated[int, typer.Option(help="Timed runs per path.")] = 20,
    force: Annotated[bool, typer.Option(help="Add to an installation that has calls.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Seed N synthetic calls into the installation at ROKUON_HOME and print p50/p95 of
    search and the call list."""
    if calls < 1:
        fail("--calls: at least 1")
    try:
        res = run_scale(calls, per_call=per_call, database_url=database_url, repeat=repeat,
                        force=force)
    except NotEmptyError as exc:
        fail(str(exc))
    if json_:
        emit_json(res)
        return
    typer.echo(f"{res['database']}: {res['calls']} calls, {res['utterances']} utterances "
               f"(seeded in {res['seed_s']} s)")
    for name, r in res["paths"].items():
        extra = f"  total {r['total']}" if "total" in r else ""
        typer.echo(f"  {name:36} p50 {r['p50_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms{extra}")
