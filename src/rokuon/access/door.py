"""The one door to recording content.

Every read of a call's audio, transcript or analysis goes through here: the
scope check and the audit entry happen in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit, permissions
from rokuon.access.principal import Principal
from rokuon.store.models import BreakGlassGrant, Call, utcnow


class AccessDenied(PermissionError):
    pass


# The permission matrix (docs/security.md). Call content = audio, transcript, analysis.
CALL_SCOPE = {
    "admin": "all calls",
    "compliance": "all calls",
    "supervisor": "calls of their team (metadata 'team' or queue)",
    "operator": "their own calls (metadata 'agent' = their agent name)",
    "auditor": "no call content; the audit log",
}
BREAK_GLASS_ROLES = ("admin", "compliance", "supervisor")
MIN_JUSTIFICATION = 20
BREAK_GLASS_MINUTES = 30
DEFAULT_PURPOSES = ("quality",)


def can_read_audit(principal: Principal) -> bool:
    return permissions.allowed(principal, "audit")


def can_erase(principal: Principal) -> bool:
    return permissions.allowed(principal, "delete")


def can_handle_requests(principal: Principal) -> bool:
    """Data subject requests (disclosure, correction, stop-use, erasure)."""
    return permissions.allowed(principal, "export")


LEGAL_PURPOSES = ("dispute", "legal")
# a call quarantined by PCI mode (masking failed or unsure) is not played, downloaded
# or disclosed until an administrator releases it
QUARANTINED_REFUSES = frozenset({"call.play", "call.download", "call.disclose"})


def allowed_purposes(call: Call) -> list[str]:
    """The call's purposes of use; once its use is stopped (APPI art. 35) only the legal
    ones that it was kept for."""
    purposes = list(call.purposes or DEFAULT_PURPOSES)
    if call.use_stopped_at is not None:
        return [p for p in purposes if p in LEGAL_PURPOSES] or list(LEGAL_PURPOSES[1:])
    return purposes


class NotFound(LookupError):
    pass


def scope_filter(principal: Principal, q: Select[Any]) -> Select[Any]:
    """Restrict a query over calls to what the principal may see."""
    if principal.role in ("admin", "compliance"):
        return q
    if principal.role == "supervisor":
        if not principal.team:
            return q.where(Call.id.is_(None))  # a supervisor without a team sees nothing
        return q.where(or_(Call.extra_metadata["team"].as_string() == principal.team,
                           Call.queue == principal.team))
    if principal.role == "operator":
        return q.where(Call.agent == (principal.agent_name or principal.name))
    return q.where(Call.id.is_(None))  # auditor (and unknown roles): no call content


def in_scope(principal: Principal, *, agent: str | None, team: str | None,
             queue: str | None) -> bool:
    """``scope_filter`` for one call that is not a row yet (a live call): the same rule."""
    if principal.role in ("admin", "compliance"):
        return True
    if principal.role == "supervisor":
        return bool(principal.team) and principal.team in (team, queue)
    if principal.role == "operator":
        return agent is not None and agent == (principal.agent_name or principal.name)
    return False


def open_break_glass(session: Session, principal: Principal, call_id: str,
                     justification: str) -> BreakGlassGrant:
    """Open one call outside the principal's scope for BREAK_GLASS_MINUTES, with a
    written justification; recorded with outcome ``break_glass`` for review. Only
    reachable by a state-changing request (POST + CSRF), never by following a link."""
    why = (justification or "").strip()
    if principal.role not in BREAK_GLASS_ROLES or principal.user_id is None:
        audit.record(session, principal, "call.break_glass", object_type="call",
                     object_id=call_id, outcome="denied", detail={"why": "role"})
        session.commit()
        raise AccessDenied(f"the role {principal.role} cannot break the glass")
    if len(why) < MIN_JUSTIFICATION:
        raise AccessDenied(f"write a justification of at least {MIN_JUSTIFICATION} "
                           f"characters")
    if session.get(Call, call_id) is None:
        audit.record(session, principal, "call.break_glass", object_type="call",
                     object_id=call_id, outcome="not_found", detail={"justification": why})
        session.commit()
        raise NotFound(f"call {call_id} not found")
    grant = BreakGlassGrant(user_id=principal.user_id, call_id=call_id, justification=why,
                            expires_at=utcnow() + timedelta(minutes=BREAK_GLASS_MINUTES))
    session.add(grant)
    session.flush()
    audit.record(session, principal, "call.break_glass", object_type="call",
                 object_id=call_id, outcome="break_glass",
                 detail={"justification": why, "grant": grant.id,
                         "minutes": BREAK_GLASS_MINUTES})
    return grant


def _grant(session: Session, principal: Principal, call_id: str) -> BreakGlassGrant | None:
    if principal.user_id is None or principal.role not in BREAK_GLASS_ROLES:
        return None
    return session.scalars(select(BreakGlassGrant).where(
        BreakGlassGrant.user_id == principal.user_id, BreakGlassGrant.call_id == call_id,
        BreakGlassGrant.expires_at > utcnow()).order_by(BreakGlassGrant.id.desc())).first()


def get_call(session: Session, principal: Principal, call_id: str, *, action: str,
             purpose: str | None = None, require_purpose: bool = False,
             break_glass: str | None = None, detail: dict[str, Any] | None = None) -> Call:
    """Fetch a call the principal may access and audit the access, in the caller's
    transaction. Unknown and out-of-scope ids look the same (no probing of ids).

    ``require_purpose``: playing/downloading/exporting needs a stated purpose that is
    one of the call's purposes of use. A call outside the principal's scope opens only
    through an active break-glass grant (open_break_glass, or ``break_glass`` = a
    justification, which opens one: for callers that are themselves a deliberate,
    state-changing act); the access is recorded with outcome ``break_glass``."""
    detail = dict(detail or {})
    call = session.scalars(scope_filter(principal, select(Call).where(Call.id == call_id))).first()
    outcome = "ok"
    if call is None and break_glass is not None:
        with suppress(AccessDenied, NotFound):
            open_break_glass(session, principal, call_id, break_glass)
    if call is None:
        grant = _grant(session, principal, call_id)
        if grant is not None:
            call = session.get(Call, call_id)
            outcome = "break_glass"
            detail.update(justification=grant.justification, grant=grant.id)
    if call is None:
        exists = session.get(Call, call_id) is not None
        audit.record(session, principal, action, object_type="call", object_id=call_id,
                     purpose=purpose, outcome="denied" if exists else "not_found",
                     detail=detail)
        session.commit()
        raise NotFound(f"call {call_id} not found")
    if call.quarantined_at is not None and action in QUARANTINED_REFUSES:
        audit.record(session, principal, action, object_type="call", object_id=call_id,
                     purpose=purpose, outcome="denied", detail={**detail, "why": "quarantine"})
        session.commit()
        raise AccessDenied("this call is quarantined (PCI: card-data masking failed or was "
                           "unsure) until an administrator reviews it (rokuon pci quarantine)")
    if require_purpose and purpose not in allowed_purposes(call):
        audit.record(session, principal, action, object_type="call", object_id=call_id,
                     purpose=purpose, outcome="denied", detail={**detail, "why": "purpose"})
        session.commit()
        raise AccessDenied(f"state a purpose of use of this call "
                           f"({', '.join(allowed_purposes(call))}); got {purpose or 'none'}")
    audit.record(session, principal, action, object_type="call", object_id=call_id,
                 purpose=purpose, outcome=outcome, detail=detail)
    return call


@contextmanager
def audited(session: Session, principal: Principal, action: str,
            **detail: Any) -> Iterator[None]:
    """Audit a non-call-specific read such as a search or a listing."""
    audit.record(session, principal, action, detail=detail)
    yield
