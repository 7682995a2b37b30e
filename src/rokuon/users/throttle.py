"""Failed sign-in steps counted per client address, so that one address cannot guess
passwords or TOTP codes across many accounts. The account itself is protected by its
own counters (users.service / users.second_factor); this is the per-address limit.

The counter is one row per key, increased with a single ``INSERT … ON CONFLICT DO
UPDATE … RETURNING`` so that parallel requests cannot lose an increment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rokuon.store.models import AuthThrottle, utcnow

WINDOW = timedelta(minutes=15)
MAX_PER_ADDRESS = 30  # failed password or TOTP steps per address and window


class Throttled(Exception):
    """Too many failures from this address; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-in attempts from this address; "
                         f"try again in {retry_after // 60 + 1} minutes")
        self.retry_after = retry_after


def _key(source: str | None) -> str:
    return f"addr:{source or 'unknown'}"[:400]


def _retry_after(start: datetime, now: datetime) -> int:
    return max(1, int((start + WINDOW - now).total_seconds()))


def check(session: Session, source: str | None) -> None:
    """Raise Throttled when the address has used up its failures in this window."""
    row = session.execute(select(AuthThrottle.window_start, AuthThrottle.failures)
                          .where(AuthThrottle.key == _key(source))).first()
    now = utcnow()
    if row is not None and row.window_start > now - WINDOW and \
            row.failures >= MAX_PER_ADDRESS:
        raise Throttled(_retry_after(row.window_start, now))


def count_failure(session: Session, source: str | None) -> int:
    """Count one failure for the address (atomically); returns the count in the window."""
    now = utcnow()
    fresh = AuthThrottle.window_start <= now - WINDOW
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(AuthThrottle).values(key=_key(source), window_start=now, failures=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AuthThrottle.key],
        set_={"failures": case((fresh, 1), else_=AuthThrottle.failures + 1),
              "window_start": case((fresh, literal(now, AuthThrottle.window_start.type)),
                                   else_=AuthThrottle.window_start)},
    ).returning(AuthThrottle.failures)
    return int(session.execute(stmt).scalar_one())
