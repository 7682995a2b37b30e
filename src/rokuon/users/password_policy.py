"""Password rules after NIST SP 800-63B: length over composition rules, a bundled list
of common/breached passwords, no password made of the account name, no periodic
expiry."""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128


class WeakPassword(ValueError):
    pass


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def check_password(password: str, *, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")
    low = password.lower()
    if low in common_passwords() or low.rstrip("!1.") in common_passwords():
        raise WeakPassword("this password is on the list of common or breached passwords")
    if len(set(password)) <= 2:
        raise WeakPassword("the password repeats one or two characters")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in low:
        raise WeakPassword("the password must not contain your account name")
