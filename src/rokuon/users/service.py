"""Users and passwords (argon2id), the password lockout. Web sessions: users.sessions."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import ROLES, Principal
from rokuon.store.models import User, utcnow

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


class UserError(ValueError):
    pass


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def locked_message(user: User) -> str:
    until = user.locked_until.strftime("%H:%M") if user.locked_until else "?"
    return f"too many failed sign-ins; try again after {until} UTC"


def authenticate(session: Session, email: str, password: str, source: str | None
                 ) -> User | None:
    """Check the password. Five failures in a row lock the account for 15 minutes
    (AccountLocked); every attempt is audited.

    The counter lives in the database and is changed only by single UPDATE statements
    (increase-and-return, lock-if-reached, reset-unless-locked), so parallel requests
    cannot lose a failure nor sign in past a lock set by another request."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    now = utcnow()
    if user is not None and is_locked(user, now):
        audit.record(session, email[:320], "auth.login", object_type="user",
                     object_id=str(user.id), outcome="locked", source=source)
        raise AccountLocked(locked_message(user))
    ok = False
    if user is not None and not user.disabled:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # same cost whether or not the user exists
    if user is not None and ok:
        # reset only while no other request has locked the account meanwhile
        done = session.execute(
            update(User).where(User.id == user.id, or_(User.locked_until.is_(None),
                                                       User.locked_until <= now))
            .values(failed_logins=0, locked_until=None)
            .execution_options(synchronize_session=False)).rowcount
        if not done:
            session.refresh(user)
            audit.record(session, email[:320], "auth.login", object_type="user",
                         object_id=str(user.id), outcome="locked", source=source)
            raise AccountLocked(locked_message(user))
    def record_attempt() -> None:
        audit.record(session, email[:320], "auth.login", object_type="user",
                     object_id=str(user.id) if user else None,
                     outcome="ok" if ok else "failed", source=source)

    if user is not None and not ok:
        register_failure(session, user, User.failed_logins, source=source, factor="password",
                         record=record_attempt)
    else:
        record_attempt()
    if user is not None:
        session.refresh(user)
    return user if ok else None


def register_failure(session: Session, user: User, counter: Any, *, source: str | None,
                     factor: str, limit: int = MAX_FAILURES,
                     record: Callable[[], Any] | None = None) -> bool:
    """Count one failure of a sign-in factor for the user (``counter`` is the column:
    User.failed_logins or User.mfa_failures) and lock the account when the limit is
    reached. Both steps are single UPDATE statements on the row, so the count is exact
    under any concurrency. ``record`` writes the failure's audit row right after the
    count: the user's row is always locked before the audit log's head (one lock order
    for every sign-in path, so PostgreSQL never sees a deadlock between them). Returns
    True when this failure locked the account."""
    n = session.execute(
        update(User).where(User.id == user.id).values({counter: counter + 1})
        .returning(counter).execution_options(synchronize_session=False)).scalar_one()
    if record is not None:
        record()
    if n < limit:
        return False
    locked = session.execute(
        update(User).where(User.id == user.id, counter >= limit)
        .values({counter: 0, User.locked_until: utcnow() + LOCKOUT})
        .execution_options(synchronize_session=False)).rowcount
    if locked:
        audit.record(session, user.email, "auth.lockout", object_type="user",
                     object_id=str(user.id), outcome="locked", source=source,
                     detail={"factor": factor, "failures": int(n)})
    return bool(locked)


def set_password(session: Session, user: User, new_password: str) -> None:
    """Set a new password (policy checked). Callers that act for the user themselves
    use change_password, which also asks for the current password."""
    from rokuon.users.password_policy import WeakPassword, check_password

    try:
        check_password(new_password, email=user.email)
    except WeakPassword as exc:
        raise UserError(str(exc)) from exc
    user.password_hash = _hasher.hash(new_password)
    user.must_change_password = False
    audit.record(session, user.email, "user.password_change", object_type="user",
                 object_id=str(user.id))


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
