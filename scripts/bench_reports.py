"""Dashboard and KPI API latency over HTTP with many calls.

Seeds N synthetic calls (metadata and analysis rows, no audio; spread evenly over the
last ``--days`` days, 200 agents in 20 teams and 10 queues) into a fresh installation
— PostgreSQL when ROKUON_DATABASE_URL is set (an empty database), else SQLite in a
temporary home — with their report figures as the analyze step writes them. Then
starts the web server in a child process (no pipeline workers), signs in as an admin
(every call) and as a supervisor (one team) and requests, one after the other, the
dashboard (default period: the last 7 days, by agent, with the daily trend and the
keyword ranking), ``/api/reports/kpis?group=agent`` and the call list (first page, and
page 3 of the complaint calls by QA score). Prints p50/p95 per page and role.

Usage: python scripts/bench_reports.py [--calls 100000] [--days 90] [--requests 40]
       [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple 42"
BATCH = 2000


def _seed(n: int, days: int, seed: int = 0) -> dict[str, str]:
    """Seed the installation at ROKUON_HOME / ROKUON_DATABASE_URL; returns the TOTP
    secrets of the admin and the supervisor."""
    from sqlalchemy import insert

    from rokuon.access.principal import Principal
    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime
    from rokuon.reports.figures import figures, keyword_hits
    from rokuon.reports.synthetic import call_row, random_analysis
    from rokuon.store.models import AnalysisResult, Call, CallKeywordHit, CallKpi
    from rokuon.users import mfa
    from rokuon.users.service import create_user, set_password

    init_installation(load_settings(), "root@example.com")
    rt = open_runtime(load_settings())
    rng = random.Random(seed)
    now = datetime.now(UTC)
    span = timedelta(days=days).total_seconds()
    t0 = time.perf_counter()
    try:
        for a in range(0, n, BATCH):
            calls, results, kpis, hits = [], [], [], []
            for i in range(a, min(n, a + BATCH)):
                agent = rng.randrange(200)
                an = random_analysis(rng)
                row = call_row(started_at=now - timedelta(seconds=span * (i + 0.5) / n),
                               duration_s=round(rng.uniform(30, 900), 1),
                               agent=f"agent{agent:03d}", team=f"T{agent % 20:02d}",
                               queue=f"q{rng.randrange(10)}")
                row["qa_score"] = an["qa"]["score"]
                calls.append(row)
                results += [{"call_id": row["id"], "analyzer": k, "version": 1,
                             "payload": v, "created_at": now} for k, v in an.items()]
                kpis.append({"call_id": row["id"], "updated_at": now, **figures(an)})
                hits += [{"call_id": row["id"], "list": lst, "word": w, "hits": c}
                         for (lst, w), c in keyword_hits(an).items()]
            with rt.db.session() as s:
                s.execute(insert(Call), calls)
                s.execute(insert(AnalysisResult), results)
                s.execute(insert(CallKpi), kpis)
                if hits:
                    s.execute(insert(CallKeywordHit), hits)
            print(f"  seeded {min(n, a + BATCH)}/{n} calls "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        if rt.settings.effective_database_url.startswith("postgresql"):
            # planner statistics, as autovacuum would gather them after a bulk load (in
            # a transaction that is rolled back they would be thrown away)
            with rt.db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        secrets = {}
        with rt.db.session() as s:
            for email, role, team in (("admin@example.com", "admin", None),
                                      ("sv@example.com", "supervisor", "T03")):
                user, _ = create_user(s, Principal.cli(), email, role, team, None)
                set_password(s, user, PASSWORD)
                user.must_change_password = False
                secrets[email] = mfa.new_secret(user, rt.keys)
                user.mfa_enabled = True
        return secrets
    finally:
        rt.close()


def _serve(port: int) -> None:
    import uvicorn

    from rokuon.config import load_settings
    from rokuon.install import open_runtime
    from rokuon.web.app import create_app

    rt = open_runtime(load_settings())
    uvicorn.run(create_app(rt, start_workers=False), host="127.0.0.1", port=port,
                log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sign_in(base: str, email: str, secret: str) -> httpx.Client:
    import pyotp

    c = httpx.Client(base_url=base, timeout=60)
    r = c.post("/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/mfa", (r.status_code, r.text)
    page = c.get("/mfa").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post("/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf": csrf})
    assert r.status_code == 303, (r.status_code, r.text)
    return c


def _timed(c: httpx.Client, url: str, n: int) -> dict[str, float]:
    for _ in range(3):  # warm-up
        assert c.get(url).status_code == 200, url
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = c.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
            "max_ms": round(times[-1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--serve-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_child:
        _serve(args.serve_child)
        return
    db = os.environ.get("ROKUON_DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ROKUON_HOME"] = str(Path(tmp) / "home")
        t0 = time.perf_counter()
        secrets = _seed(args.calls, args.days)
        seed_s = time.perf_counter() - t0
        port = _free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve-child", str(port)],
                                  env=dict(os.environ), cwd=ROOT)
        results: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            for email, who in (("admin@example.com", "admin (all calls)"),
                               ("sv@example.com", "supervisor (one team)")):
                c = _sign_in(base, email, secrets[email])
                results[who] = {
                    "dashboard": _timed(c, "/dashboard", args.requests),
                    "kpis_api": _timed(c, "/api/reports/kpis?group=agent", args.requests),
                    "call_list": _timed(c, "/", args.requests),
                    "call_list_filtered": _timed(
                        c, "/?flag=complaint&sort=qa&order=asc&page=3", args.requests)}
                c.close()
        finally:
            server.terminate()
            server.wait(30)
    out = {"database": "postgresql" if db.startswith("postgresql") else "sqlite",
           "calls": args.calls, "days": args.days,
           "calls_in_7_days": round(args.calls * 7 / args.days),
           "requests": args.requests, "seed_s": round(seed_s, 1), **results}
    print(json.dumps(out, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
