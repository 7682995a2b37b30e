"""What encrypting the embedded database (SQLCipher) costs: the same inserts and
full-table LIKE scans on a plain SQLite file and on a SQLCipher one.

    python scripts/bench_database.py [--rows 20000] [--scans 50]
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time

from sqlalchemy import text

from rokuon.store.db import Database


def run(key: bytes | None, rows: int, scans: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{d}/bench.db", sqlite_key=key)
        with db.engine.begin() as c:
            c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        t0 = time.perf_counter()
        for i in range(rows // 100):
            with db.engine.begin() as c:
                c.execute(text("INSERT INTO t (body) VALUES (:b)"),
                          [{"b": f"解約したいのですが番号は{i}-{j} " * 5} for j in range(100)])
        t1 = time.perf_counter()
        for _ in range(scans):
            with db.engine.connect() as c:
                c.execute(text("SELECT count(*) FROM t WHERE body LIKE '%番号は7-%'")).scalar()
        t2 = time.perf_counter()
        db.engine.dispose()
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--scans", type=int, default=50)
    a = ap.parse_args()
    plain = run(None, a.rows, a.scans)
    enc = run(secrets.token_bytes(32), a.rows, a.scans)
    print(f"{'':10} {'insert ' + str(a.rows) + ' rows':>20} {str(a.scans) + ' full scans':>16}")
    print(f"{'plain':10} {plain[0]:19.2f}s {plain[1]:15.2f}s")
    print(f"{'SQLCipher':10} {enc[0]:19.2f}s {enc[1]:15.2f}s")
    print(f"{'ratio':10} {enc[0] / plain[0]:19.2f}× {enc[1] / plain[1]:15.2f}×")


if __name__ == "__main__":
    main()
