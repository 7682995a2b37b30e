"""Users and passwords (argon2id). Sessions for the web UI live in web_sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import ROLES, Principal
from rokuon.store.models import User, WebSession, utcnow

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


class UserError(ValueError):
    pass


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(session: Session, actor: Principal, email: str, role: str,
                team: str | None = None, agent_name: str | None = None) -> tuple[User, str]:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise UserError(f"'{email}' is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"unknown role '{role}' (one of: {', '.join(ROLES)})")
    if session.scalar(select(User.id).where(User.email == email)):
        raise UserError(f"user {email} already exists")
    password = one_time_password()
    user = User(email=email, role=role, team=team, agent_name=agent_name,
                password_hash=_hasher.hash(password), must_change_password=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", object_type="user", object_id=str(user.id),
                 detail={"email": email, "role": role, "team": team})
    return user, password


def principal_for(user: User, source: str | None = None) -> Principal:
    return Principal(name=user.email, role=user.role, team=user.team, user_id=user.id,
                     agent_name=user.agent_name or user.email.split("@")[0], source=source)


MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class AccountLocked(Exception):
    pass


def authenticate(session: Session, email: str, password: str, source: str | None
                 ) -> User | None:
    """Check the password. Five failures in a row lock the account for 15 minutes
    (AccountLocked); every attempt is audited."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit.record(session, email[:320], "auth.login", object_type="user",
                     object_id=str(user.id), outcome="locked", source=source)
        raise AccountLocked(f"too many failed sign-ins; try again after "
                            f"{user.locked_until.strftime('%H:%M')} UTC")
    ok = False
    if user is not None and not user.disabled:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # same cost whether or not the user exists
    audit.record(session, email[:320], "auth.login", object_type="user",
                 object_id=str(user.id) if user else None,
                 outcome="ok" if ok else "failed", source=source)
    if user is not None:
        if ok:
            user.failed_logins, user.locked_until = 0, None
        else:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
                audit.record(session, email[:320], "auth.lockout", object_type="user",
                             object_id=str(user.id), outcome="locked", source=source)
    return user if ok else None


def set_password(session: Session, user: User, new_password: str) -> None:
    from rokuon.users.password_policy import WeakPassword, check_password

    try:
        check_password(new_password, email=user.email)
    except WeakPassword as exc:
        raise UserError(str(exc)) from exc
    user.password_hash = _hasher.hash(new_password)
    user.must_change_password = False
    audit.record(session, user.email, "user.password_change", object_type="user",
                 object_id=str(user.id))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User) -> tuple[str, WebSession]:
    token = secrets.token_urlsafe(32)
    ws = WebSession(token_hash=_digest(token), user_id=user.id,
                    csrf_token=secrets.token_urlsafe(24))
    session.add(ws)
    return token, ws


def resolve_session(session: Session, token: str, *, idle_minutes: int, absolute_hours: int
                    ) -> tuple[User, WebSession] | None:
    ws = session.get(WebSession, _digest(token))
    if ws is None:
        return None
    now = utcnow()
    created = ws.created_at if ws.created_at.tzinfo else ws.created_at.replace(tzinfo=UTC)
    seen = ws.last_seen_at if ws.last_seen_at.tzinfo else ws.last_seen_at.replace(tzinfo=UTC)
    if now - seen > timedelta(minutes=idle_minutes) or \
            now - created > timedelta(hours=absolute_hours):
        session.delete(ws)
        return None
    user = session.get(User, ws.user_id)
    if user is None or user.disabled:
        return None
    ws.last_seen_at = now
    return user, ws


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


