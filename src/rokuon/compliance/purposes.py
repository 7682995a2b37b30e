"""Purposes of use (利用目的, APPI art. 17/21): the installation's catalogue, which
purposes a new call gets (its metadata, else its queue's, else its source's, else the
default), the privacy-notice version in force when it started, and the call's consent
record (telephony metadata first, else the announcement/consent analysis)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rokuon.config import Settings


class PurposeError(ValueError):
    pass


def resolve(settings: Settings, given: list[str] | None, *, queue: str | None,
            source: str) -> list[str]:
    """The call's purposes; unknown codes are an error naming them."""
    purposes = list(given or []) or list(settings.purposes_by_queue.get(queue or "", [])) \
        or list(settings.purposes_by_source.get(source, [])) or list(settings.default_purposes)
    unknown = [p for p in purposes if p not in settings.purposes]
    if unknown:
        raise PurposeError(f"purposes: {', '.join(unknown)} not in the catalogue "
                           f"({', '.join(settings.purposes)})")
    return purposes


def notice_for(settings: Settings, started: datetime | None) -> dict[str, str] | None:
    """The notice version in force on the day the call started (or today)."""
    day = (started.date() if started else date.today()).isoformat()
    current = [n for n in settings.notices if str(n.get("effective_from", "")) <= day]
    return max(current, key=lambda n: str(n.get("effective_from", ""))) if current else None


def consent_record(metadata: dict[str, Any], analysis: dict[str, Any]) -> dict[str, Any]:
    """How the customer was told and what they said, with where we know it from."""
    tel = metadata.get("consent") if isinstance(metadata, dict) else None
    if isinstance(tel, dict) and tel:
        return {"source": "metadata", **{k: tel[k] for k in tel if isinstance(k, str)},
                "notice_version": metadata.get("notice_version")}
    c = analysis.get("consent") if isinstance(analysis, dict) else None
    if not isinstance(c, dict) or "announced" not in c:
        return {"source": None, "notice_version": metadata.get("notice_version")}
    return {"source": "analysis", "announced": c.get("announced"),
            "announced_at": c.get("announced_at"), "purpose_stated": c.get("purpose_stated"),
            "answer": c.get("answer"), "refused": c.get("refused"),
            "notice_version": metadata.get("notice_version")}
