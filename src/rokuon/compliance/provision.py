"""Third-party provision records (APPI art. 29/30): who received which recordings,
when and on what basis. Exports to outside parties and CRM pushes record here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.store.models import Call, ThirdPartyProvision


def record_provision(session: Session, principal: Principal, *, recipient: str, basis: str,
                     call_ids: list[str], detail: dict[str, Any] | None = None
                     ) -> ThirdPartyProvision:
    from rokuon.compliance.dsar import RequestError

    if not recipient.strip() or not basis.strip():
        raise RequestError("recipient and basis are required")
    missing = [c for c in call_ids if session.get(Call, c) is None]
    if missing or not call_ids:
        raise RequestError(f"unknown call(s): {', '.join(missing) or 'none given'}")
    rec = ThirdPartyProvision(recipient=recipient.strip(), basis=basis.strip(),
                              call_ids=list(call_ids), recorded_by=principal.name,
                              detail=detail or {})
    session.add(rec)
    session.flush()
    audit.record(session, principal, "provision.record", object_type="provision",
                 object_id=str(rec.id), detail={"recipient": rec.recipient,
                                                "calls": list(call_ids)})
    return rec


def list_provisions(session: Session, call_id: str | None = None) -> list[dict[str, Any]]:
    rows = session.scalars(select(ThirdPartyProvision).order_by(ThirdPartyProvision.id)).all()
    return [{"provision_id": r.id, "recipient": r.recipient, "basis": r.basis,
             "call_ids": r.call_ids, "provided_at": r.provided_at.isoformat(),
             "recorded_by": r.recorded_by, "detail": r.detail}
            for r in rows if call_id is None or call_id in (r.call_ids or [])]
