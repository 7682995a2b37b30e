"""The one door to recording content.

Every read of a call's audio, transcript or analysis goes through here: the
scope check and the audit entry happen in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import Call


class AccessDenied(PermissionError):
    pass


class NotFound(LookupError):
    pass


def scope_filter(principal: Principal, q: Select[Any]) -> Select[Any]:
    """Restrict a query over calls to what the principal may see."""
    if principal.role in ("admin", "compliance"):
        return q
    if principal.role == "supervisor":
        if principal.team is None:
            return q
        return q.where(or_(Call.extra_metadata["team"].as_string() == principal.team,
                           Call.queue == principal.team))
    if principal.role == "operator":
        return q.where(Call.agent == (principal.agent_name or principal.name))
    return q.where(Call.id.is_(None))  # auditor: no call content


def get_call(session: Session, principal: Principal, call_id: str, *, action: str,
             purpose: str | None = None, detail: dict[str, Any] | None = None) -> Call:
    """Fetch a call the principal may access and audit the access. Unknown and
    forbidden ids look the same to the caller (no probing of ids)."""
    call = session.scalars(scope_filter(principal, select(Call).where(Call.id == call_id))).first()
    if call is None:
        exists = session.get(Call, call_id) is not None
        audit.record(session, principal, action, object_type="call", object_id=call_id,
                     purpose=purpose, outcome="denied" if exists else "not_found", detail=detail)
        session.commit()
        raise NotFound(f"call {call_id} not found")
    audit.record(session, principal, action, object_type="call", object_id=call_id,
                 purpose=purpose, detail=detail)
    return call


@contextmanager
def audited(session: Session, principal: Principal, action: str,
            **detail: Any) -> Iterator[None]:
    """Audit a non-call-specific read such as a search or a listing."""
    audit.record(session, principal, action, detail=detail)
    yield
