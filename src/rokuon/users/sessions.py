"""Server-side web sessions: a random id in an HttpOnly cookie, only its SHA-256 in
the database. A new id at every sign-in step, none survives sign-out, and a password
change ends every other session of the user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from rokuon.store.models import User, WebSession, utcnow

# last_seen_at is written at most this often: a read does not need a write per request
TOUCH_EVERY = timedelta(seconds=60)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, *, mfa_passed: bool = False
                  ) -> tuple[str, WebSession]:
    token = secrets.token_urlsafe(32)
    ws = WebSession(token_hash=digest(token), user_id=user.id, mfa_passed=mfa_passed,
                    csrf_token=secrets.token_urlsafe(24))
    session.add(ws)
    session.flush()
    return token, ws


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def resolve_session(session: Session, token: str, *, idle_minutes: int, absolute_hours: int
                    ) -> tuple[User, WebSession] | None:
    ws = session.get(WebSession, digest(token))
    if ws is None:
        return None
    now = utcnow()
    created, seen = _aware(ws.created_at), _aware(ws.last_seen_at)
    if now - seen > timedelta(minutes=idle_minutes) or \
            now - created > timedelta(hours=absolute_hours):
        session.delete(ws)
        return None
    user = session.get(User, ws.user_id)
    if user is None or user.disabled:
        return None
    if now - seen > TOUCH_EVERY:
        ws.last_seen_at = now
    return user, ws


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


def end_other_sessions(session: Session, user_id: int, keep: str | None = None) -> int:
    """End every session of the user except ``keep`` (a token); returns how many."""
    q = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        q = q.where(WebSession.token_hash != digest(keep))
    return session.execute(q).rowcount or 0
