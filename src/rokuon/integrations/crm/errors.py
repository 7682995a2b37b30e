"""What a CRM attempt can end in, as the outbox needs it: retry (with the CRM's
Retry-After when it sent one) or give up (a mapping or permission the CRM refuses)."""

from __future__ import annotations


class CrmConfigError(ValueError):
    """``crm.yaml`` is wrong (the message names the key)."""


class CrmError(Exception):
    """One failed attempt; ``permanent``: retrying cannot help until someone fixes the
    mapping or the credentials; ``retry_after``: seconds the CRM asked us to wait."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), at most one hour."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        secs = (when - datetime.now(UTC)).total_seconds()
    return min(max(secs, 0.0), 3600.0)
