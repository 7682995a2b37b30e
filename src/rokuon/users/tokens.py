"""Scoped, expiring API tokens for scripts (``Authorization: Bearer rk_…``), stored
hashed; the token itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import ApiToken, User, utcnow

SCOPES = ("calls:read", "audio:read", "calls:write", "audit:read", "requests:read",
          "requests:write")
PREFIX = "rk_"


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, actor: Principal, email: str, scopes: list[str], *,
                 days: int = 30, name: str = "script") -> tuple[str, ApiToken]:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise TokenError(f"no user {email}")
    bad = [x for x in scopes if x not in SCOPES]
    if bad or not scopes:
        raise TokenError(f"unknown scope(s) {', '.join(bad) or '(none)'}; "
                         f"use: {', '.join(SCOPES)}")
    from rokuon.access.permissions import scopes_beyond_role

    beyond = scopes_beyond_role(user.role, list(scopes))
    if beyond:
        raise TokenError(f"the {user.role} role of {user.email} does not allow "
                         f"{', '.join(beyond)}: a token never gives more than its user's "
                         f"role (see the permission table in docs/security.md)")
    if not 1 <= days <= 365:
        raise TokenError("--days must be between 1 and 365")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:100], token_hash=digest(token),
                   scopes=sorted(set(scopes)), expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.create", object_type="user", object_id=str(user.id),
                 detail={"token_id": row.id, "scopes": row.scopes, "days": days})
    return token, row


def revoke_token(session: Session, actor: Principal, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError(f"no token {token_id}")
    row.revoked = True
    audit.record(session, actor, "token.revoke", object_type="token", object_id=str(token_id))


def resolve_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    if not token.startswith(PREFIX):
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=60):
        row.last_used_at = now  # at most once a minute: a read is not a write
    return user, row
