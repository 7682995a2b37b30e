"""A signed-in user changes their own password: the current password and, with MFA, a
TOTP code (or a recovery code) are required, and every session of the user ends (the
caller starts a fresh one). Wrong answers count like failed sign-ins."""

from __future__ import annotations

from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.keys import KeyProvider
from rokuon.store.models import User
from rokuon.users import second_factor, throttle
from rokuon.users.service import (
    AccountLocked,
    UserError,
    is_locked,
    locked_message,
    register_failure,
    set_password,
    verify_password,
)
from rokuon.users.sessions import end_other_sessions


class WrongCredentials(UserError):
    """``field`` names what was wrong: 'current_password' or 'code'."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def change_password(session: Session, principal: Principal, user: User, keys: KeyProvider,
                    *, current: str, new: str, code: str | None) -> bool:
    """Check the current password (+ code), set the new one, end all the user's
    sessions. Returns whether a second factor was checked (the new session has then
    passed MFA). Raises WrongCredentials, UserError (weak password), AccountLocked,
    throttle.Throttled."""
    from rokuon.users.password_policy import WeakPassword, check_password

    try:  # before any code is used up
        check_password(new, email=user.email)
    except WeakPassword as exc:
        raise UserError(str(exc)) from exc
    throttle.check(session, principal.source)
    if is_locked(user):
        raise AccountLocked(locked_message(user))
    if not verify_password(user, current):
        def record() -> None:
            audit.record(session, principal, "user.password_change", object_type="user",
                         object_id=str(user.id), outcome="failed",
                         detail={"why": "current password"})

        locked = register_failure(session, user, User.failed_logins,
                                  source=principal.source, factor="password", record=record)
        throttle.count_failure(session, principal.source)
        if locked:
            end_other_sessions(session, user.id)
            session.refresh(user)
            raise AccountLocked(locked_message(user))
        raise WrongCredentials("current_password", "the current password is wrong")
    mfa_checked = False
    if user.mfa_enabled:
        if not second_factor.verify_sign_in(session, principal, user, keys, code or ""):
            raise WrongCredentials("code", "the authenticator code is wrong")
        mfa_checked = True
    set_password(session, user, new)
    ended = end_other_sessions(session, user.id)
    audit.record(session, principal, "auth.sessions_revoked", object_type="user",
                 object_id=str(user.id), detail={"sessions": ended,
                                                 "why": "password change"})
    return mfa_checked
