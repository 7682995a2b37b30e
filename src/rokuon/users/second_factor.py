"""The second sign-in step (TOTP or a recovery code), limited on every route that
checks a code: enrolment and sign-in alike.

- per account: 5 wrong codes in a row lock the account for 15 minutes (audited
  ``auth.lockout``, factor ``totp``) and end its half-signed-in sessions; the counter
  is separate from the password counter, so signing in again does not reset it;
- per client address: throttle.MAX_PER_ADDRESS failures of any step per window;
- a TOTP code is used up when accepted (replay refused, users.mfa.verify_totp).
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.keys import KeyProvider
from rokuon.store.models import User, WebSession
from rokuon.users import mfa, throttle
from rokuon.users.service import (
    MAX_FAILURES,
    AccountLocked,
    is_locked,
    locked_message,
    register_failure,
)


class MfaNotAllowed(Exception):
    """This step is not open to the user (e.g. enrolling again with MFA enabled)."""


def _precheck(session: Session, user: User, source: str | None) -> None:
    throttle.check(session, source)
    if is_locked(user):
        raise AccountLocked(locked_message(user))


def _failed(session: Session, principal: Principal, user: User, action: str) -> None:
    def record() -> None:
        audit.record(session, principal, action, object_type="user",
                     object_id=str(user.id), outcome="failed")

    # lock order: the user's row, the audit head, the address counter
    locked = register_failure(session, user, User.mfa_failures, source=principal.source,
                              factor="totp", limit=MAX_FAILURES, record=record)
    throttle.count_failure(session, principal.source)
    if locked:
        # the guesser's half-signed-in sessions end with the lock
        session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                                 WebSession.mfa_passed.is_(False)))
        session.refresh(user)
        raise AccountLocked(locked_message(user))


def _passed(session: Session, user: User) -> None:
    session.execute(update(User).where(User.id == user.id).values(mfa_failures=0)
                    .execution_options(synchronize_session=False))


def verify_sign_in(session: Session, principal: Principal, user: User, keys: KeyProvider,
                   code: str) -> bool:
    """The MFA step of sign-in: a TOTP code or an unused recovery code. Raises
    AccountLocked / throttle.Throttled; False for a wrong code (counted)."""
    if not user.mfa_enabled:
        raise MfaNotAllowed("this account has no second factor enrolled")
    _precheck(session, user, principal.source)
    # a 6-digit code is a TOTP code, anything else a recovery code: only one check runs,
    # so no write lock is held while argon2 hashes are compared
    digits = code.strip().replace(" ", "")
    ok = (mfa.verify_totp(session, user, keys, digits) if digits.isdigit()
          else mfa.use_recovery_code(session, user, code))
    if not ok:
        _failed(session, principal, user, "auth.mfa")
        return False
    _passed(session, user)
    audit.record(session, principal, "auth.mfa", object_type="user", object_id=str(user.id))
    return True


def enrol(session: Session, principal: Principal, user: User, keys: KeyProvider,
          code: str) -> list[str] | None:
    """Confirm the enrolment of a new TOTP secret with a first code. Only for a user
    without MFA: someone who passed only the password step of an account with MFA can
    neither guess codes here nor replace its secret and recovery codes. Returns the new
    recovery codes, or None for a wrong code (counted like a sign-in failure)."""
    if user.mfa_enabled:
        audit.record(session, principal, "auth.mfa_enrol", object_type="user",
                     object_id=str(user.id), outcome="denied",
                     detail={"why": "MFA already enabled"})
        raise MfaNotAllowed("MFA is already set up for this account; sign in with a code")
    _precheck(session, user, principal.source)
    if not mfa.verify_totp(session, user, keys, code):
        _failed(session, principal, user, "auth.mfa_enrol")
        return None
    _passed(session, user)
    user.mfa_enabled = True
    codes = mfa.new_recovery_codes(user)
    audit.record(session, principal, "auth.mfa_enrol", object_type="user",
                 object_id=str(user.id))
    return codes
