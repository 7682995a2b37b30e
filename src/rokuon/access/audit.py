"""The audit log writer. Every entry is written in the caller's transaction, so an
action and its audit record commit (or roll back) together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    purpose: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    name = actor.name if isinstance(actor, Principal) else actor
    source = actor.source if isinstance(actor, Principal) else None
    entry = AuditEntry(actor=name, action=action, object_type=object_type, object_id=object_id,
                       purpose=purpose, source=source, outcome=outcome, detail=detail or {})
    session.add(entry)
    return entry
