"""Changing who a user is: a new role (and team / agent name), deactivation and
reactivation. Each change is audited; the user's web sessions end (the next request
signs in again under the new rules) and API tokens that the new role no longer allows
are revoked. The installation always keeps one active admin."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.permissions import scopes_beyond_role
from rokuon.access.principal import ROLES, Principal
from rokuon.store.models import ApiToken, User, WebSession
from rokuon.users.service import UserError


def _user(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise UserError(f"no user {email.strip().lower()}")
    return user


def _last_admin(session: Session, user: User) -> bool:
    if user.role != "admin" or user.disabled:
        return False
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.disabled.is_(False), User.id != user.id)) or 0
    return others == 0


def _not_self(actor: Principal, user: User, what: str) -> None:
    """Nobody deactivates or resets their own account this way: their own password and
    MFA change at /password, where the current ones are asked for."""
    if actor.name == user.email:
        raise UserError(f"you cannot {what} your own account here")


def _end_sessions(session: Session, user: User) -> int:
    return session.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount


def set_role(session: Session, actor: Principal, email: str, role: str, *,
             team: str | None = None, agent_name: str | None = None) -> dict[str, object]:
    """Give ``email`` the role ``role`` (team / agent name too when given). Returns what
    changed: ``{"email", "role", "before", "sessions_ended", "tokens_revoked"}``."""
    if role not in ROLES:
        raise UserError(f"unknown role '{role}' (one of: {', '.join(ROLES)})")
    user = _user(session, email)
    if role != "admin" and _last_admin(session, user):
        raise UserError(f"{user.email} is the only active admin; make another admin first")
    before = {"role": user.role, "team": user.team, "agent_name": user.agent_name}
    user.role = role
    if team is not None:
        user.team = team.strip() or None
    if agent_name is not None:
        user.agent_name = agent_name.strip() or None
    revoked = 0
    for tok in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                      ApiToken.revoked.is_(False))):
        if scopes_beyond_role(role, list(tok.scopes)):
            tok.revoked = True
            revoked += 1
    ended = _end_sessions(session, user)
    audit.record(session, actor, "user.set_role", object_type="user", object_id=str(user.id),
                 detail={"email": user.email, "before": before,
                         "after": {"role": role, "team": user.team,
                                   "agent_name": user.agent_name},
                         "sessions_ended": ended, "tokens_revoked": revoked})
    return {"email": user.email, "role": role, "team": user.team, "before": before["role"],
            "sessions_ended": ended, "tokens_revoked": revoked}


def set_active(session: Session, actor: Principal, email: str, active: bool
               ) -> dict[str, object]:
    """Deactivate (sign-in, sessions and tokens stop at once; the user row and its audit
    history stay) or reactivate a user."""
    user = _user(session, email)
    if not active:
        _not_self(actor, user, "deactivate")
    if not active and _last_admin(session, user):
        raise UserError(f"{user.email} is the only active admin; make another admin first")
    changed = user.disabled == active
    user.disabled = not active
    ended = revoked = 0
    if not active:
        ended = _end_sessions(session, user)
        for tok in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                          ApiToken.revoked.is_(False))):
            tok.revoked = True
            revoked += 1
    audit.record(session, actor, "user.activate" if active else "user.deactivate",
                 object_type="user", object_id=str(user.id),
                 outcome="ok" if changed else "unchanged",
                 detail={"email": user.email, "sessions_ended": ended,
                         "tokens_revoked": revoked})
    return {"email": user.email, "active": active, "changed": changed,
            "sessions_ended": ended, "tokens_revoked": revoked}


def reset_mfa(session: Session, actor: Principal, email: str) -> dict[str, object]:
    """Forget the user's authenticator and recovery codes (a lost phone): their sessions
    end and, for a role that requires MFA, the next sign-in enrols a new authenticator."""
    user = _user(session, email)
    _not_self(actor, user, "reset two-factor authentication of")
    had = bool(user.mfa_enabled)
    user.mfa_secret, user.mfa_enabled, user.recovery_codes = None, False, []
    user.mfa_failures, user.totp_last_step = 0, None
    ended = _end_sessions(session, user)
    audit.record(session, actor, "user.reset_mfa", object_type="user", object_id=str(user.id),
                 outcome="ok" if had else "unchanged",
                 detail={"email": user.email, "sessions_ended": ended})
    return {"email": user.email, "mfa_was_enabled": had, "sessions_ended": ended}


def reset_password(session: Session, actor: Principal, email: str) -> dict[str, object]:
    """A new one-time password (shown once; the user must change it at sign-in); the
    lock-out is lifted and their sessions end."""
    from rokuon.users.service import hash_password, one_time_password

    user = _user(session, email)
    _not_self(actor, user, "reset the password of")
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    ended = _end_sessions(session, user)
    audit.record(session, actor, "user.reset_password", object_type="user",
                 object_id=str(user.id), detail={"email": user.email, "sessions_ended": ended})
    return {"email": user.email, "one_time_password": password, "sessions_ended": ended}


def listing(session: Session) -> list[dict[str, object]]:
    """Every user, for the admin page and ``rokuon user list`` (no secrets)."""
    from rokuon.users.service import is_locked

    users = session.scalars(select(User).order_by(User.disabled, User.role, User.email))
    return [{"user_id": u.id, "email": u.email, "role": u.role, "team": u.team,
             "agent_name": u.agent_name, "active": not u.disabled,
             "mfa_enabled": bool(u.mfa_enabled), "must_change_password": u.must_change_password,
             "locked": is_locked(u), "created_at": u.created_at.isoformat()} for u in users]
