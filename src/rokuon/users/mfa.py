"""TOTP multi-factor authentication (RFC 6238, pyotp) with one-time recovery codes.

The TOTP secret is stored wrapped by the key-encryption key (like a data key), and
recovery codes only as argon2 hashes.
"""

from __future__ import annotations

import hmac
import io
import json
import secrets
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Text, cast, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from rokuon.store.keys import KeyProvider, WrappedKey
from rokuon.store.models import User

PRIVILEGED = ("admin", "compliance", "supervisor")
STEP_S = 30  # RFC 6238 time step; codes of the previous and next step are accepted
ISSUER = "rokuon"
_hasher = PasswordHasher()


def mfa_required(user: User) -> bool:
    return user.role in PRIVILEGED


def new_secret(user: User, keys: KeyProvider) -> str:
    secret = pyotp.random_base32()
    user.mfa_secret = keys.wrap(secret.encode()).to_json()
    user.mfa_enabled = False
    user.totp_last_step = None
    return secret


def _secret(user: User, keys: KeyProvider) -> str | None:
    if not user.mfa_secret:
        return None
    return keys.unwrap(WrappedKey.from_json(user.mfa_secret)).decode()


def provisioning_uri(user: User, keys: KeyProvider) -> str:
    secret = _secret(user, keys) or ""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    import segno

    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", scale=4, xmldecl=False, svgns=True)
    return buf.getvalue().decode()


def matching_step(user: User, keys: KeyProvider, code: str, now: float | None = None
                  ) -> int | None:
    """The time-step (±1 around now) whose TOTP code is ``code``, or None."""
    secret = _secret(user, keys)
    code = code.strip().replace(" ", "")
    if not secret or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = int((time.time() if now is None else now) // STEP_S)
    for s in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(s * STEP_S), code):
            return s
    return None


def verify_totp(session: Session, user: User, keys: KeyProvider, code: str) -> bool:
    """Check a TOTP code and use it up: a code (a time-step) is accepted once per user,
    and no older step after a newer one. The last step is stored with a conditional
    UPDATE, so two parallel requests with the same code cannot both pass."""
    step = matching_step(user, keys, code)
    if step is None:
        return False
    used = session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None),
                                                   User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
    if used:
        set_committed_value(user, "totp_last_step", step)
    return bool(used)


def new_recovery_codes(user: User, n: int = 8) -> list[str]:
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(n)]
    user.recovery_codes = [_hasher.hash(c) for c in codes]
    return codes


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    """Check a recovery code and use it up. The list is replaced only if it is still the
    one that was checked (a conditional UPDATE): two parallel requests with the same
    code cannot both pass."""
    code = code.strip().lower()
    old = list(user.recovery_codes or [])
    for h in old:
        try:
            if not _hasher.verify(h, code):
                continue
        except (VerificationError, InvalidHashError):
            continue
        rest = [x for x in old if x != h]
        used = session.execute(
            update(User).where(User.id == user.id,
                               cast(User.recovery_codes, Text) == json.dumps(old))
            .values(recovery_codes=rest).execution_options(synchronize_session=False)
        ).rowcount
        if used:
            set_committed_value(user, "recovery_codes", rest)
        return bool(used)
    return False
