"""TOTP multi-factor authentication (RFC 6238, pyotp) with one-time recovery codes.

The TOTP secret is stored wrapped by the key-encryption key (like a data key), and
recovery codes only as argon2 hashes.
"""

from __future__ import annotations

import io
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rokuon.store.keys import KeyProvider, WrappedKey
from rokuon.store.models import User

PRIVILEGED = ("admin", "compliance", "supervisor")
ISSUER = "rokuon"
_hasher = PasswordHasher()


def mfa_required(user: User) -> bool:
    return user.role in PRIVILEGED


def new_secret(user: User, keys: KeyProvider) -> str:
    secret = pyotp.random_base32()
    user.mfa_secret = keys.wrap(secret.encode()).to_json()
    user.mfa_enabled = False
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


def verify_totp(user: User, keys: KeyProvider, code: str) -> bool:
    secret = _secret(user, keys)
    code = code.strip().replace(" ", "")
    return bool(secret) and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def new_recovery_codes(user: User, n: int = 8) -> list[str]:
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(n)]
    user.recovery_codes = [_hasher.hash(c) for c in codes]
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    code = code.strip().lower()
    for h in list(user.recovery_codes or []):
        try:
            if _hasher.verify(h, code):
                user.recovery_codes = [x for x in (user.recovery_codes or []) if x != h]
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False
