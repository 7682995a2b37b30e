"""Database engine and sessions. SQLite (WAL) by default, PostgreSQL for scale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, sqlite_key: bytes | None = None) -> Engine:
    """``sqlite_key``: the file is a SQLCipher database with this raw key (dbcrypt.py)."""
    if url.startswith("sqlite"):
        # Web requests and workers each hold a connection for their unit of work: the
        # pool is large enough for the server's threads (SQLite connections are cheap),
        # so readers queue on SQLite's busy timeout, not on an exhausted pool.
        extra: dict[str, Any] = {}
        if sqlite_key is not None:
            from rokuon.store import dbcrypt

            extra["module"] = dbcrypt.dbapi()
            key_pragma = dbcrypt.key_pragma(sqlite_key)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True,
            pool_size=20, max_overflow=60, pool_timeout=60, **extra,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            if sqlite_key is not None:
                cur.execute(key_pragma)  # first, before anything reads the file
                cur.execute("PRAGMA temp_store=MEMORY")  # no sort spill files on disk
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         pool_timeout=60)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    def __init__(self, url: str, *, info: dict[str, Any] | None = None,
                 sqlite_key: bytes | None = None) -> None:
        """``info`` is handed to every session (e.g. the audit keys the audit log needs);
        ``sqlite_key``: the SQLite file is encrypted with it (store/dbcrypt.py)."""
        self.url = url
        self.encrypted = sqlite_key is not None
        self.engine = make_engine(url, sqlite_key=sqlite_key)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=info or {})

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        s = self.sessionmaker()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()
