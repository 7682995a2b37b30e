"""Metadata registered ahead of a live call. Asterisk AudioSocket sends only a UUID, so
the dialplan (or the CRM) sends the call's metadata — agent, team, queue, direction,
customer number, purposes — to ``PUT /api/live/preregister/{uuid}`` before it connects
the stream; the call that arrives with that UUID takes it (once: a reconnect with the
same UUID is a new call with the capture's own metadata). Unclaimed entries expire."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.metadata import MetadataError, parse_metadata
from rokuon.store.models import LivePreregistration, utcnow

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
TTL_S = 15 * 60
# what the capture itself says of a call: never taken from a registration
CAPTURE_KEYS = frozenset({"external_id", "channels", "live_source", "continues_call", "part"})


class PreregisterError(ValueError):
    """A key or metadata that cannot be registered (the message says why)."""


def register(s: Session, principal: Principal, key: str, raw: Any,
             ttl_s: int = TTL_S) -> dict[str, Any]:
    if not KEY.match(key or ""):
        raise PreregisterError("the key must be 1–100 letters, digits, '.', '_', ':' or '-' "
                               "(an AudioSocket UUID)")
    if not isinstance(raw, dict):
        raise PreregisterError("metadata must be a JSON object")
    taken = sorted(CAPTURE_KEYS & set(raw))
    if taken:
        raise PreregisterError(f"{', '.join(taken)}: set by the capture, not registrable")
    try:
        meta = parse_metadata(json.dumps(raw), source="metadata")
    except MetadataError as exc:
        raise PreregisterError(str(exc)) from exc
    doc = meta.model_dump(mode="json", exclude_none=True)
    expires = utcnow() + timedelta(seconds=ttl_s)
    s.execute(delete(LivePreregistration).where(LivePreregistration.expires_at < utcnow()))
    row = s.get(LivePreregistration, key)
    if row is None:
        s.add(LivePreregistration(stream_key=key, meta=doc, created_by=principal.name,
                                  expires_at=expires))
    else:
        row.meta, row.created_by, row.expires_at = doc, principal.name, expires
    audit.record(s, principal, "live.preregister", object_type="live_stream", object_id=key,
                 detail={"keys": sorted(doc)})
    return {"key": key, "metadata": doc, "expires_at": expires.isoformat()}


def claim(s: Session, keys: list[str]) -> dict[str, Any]:
    """The metadata registered for the first of ``keys`` that has some (and forget every
    one of them); ``{}`` when none has."""
    rows = {r.stream_key: r for r in s.scalars(select(LivePreregistration).where(
        LivePreregistration.stream_key.in_(keys)))}
    now = utcnow()
    found: dict[str, Any] = {}
    for k in keys:
        r = rows.get(k)
        if r is not None and not found and r.expires_at >= now:
            found = dict(r.meta)
    if rows:
        s.execute(delete(LivePreregistration).where(
            LivePreregistration.stream_key.in_(list(rows))))
    return found
