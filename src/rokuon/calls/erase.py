"""Erasing a call: crypto-shredding plus removal of every derived copy.

The wrapped data key is destroyed (so the encrypted audio, and every backup copy of
it, can no longer be decrypted), the blob file is removed, transcripts, segments,
analysis results, jobs and search-index entries are deleted with the call row, and
a deletion record without personal data is kept.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.compliance import shred_list
from rokuon.runtime import Runtime
from rokuon.store import search_index
from rokuon.store.models import Call, DeletionRecord


class EraseRefused(Exception):
    pass


def erase_call(rt: Runtime, principal: Principal, call_id: str, *, reason: str,
               policy: str | None = None) -> DeletionRecord:
    if principal.role not in ("admin", "compliance"):
        raise EraseRefused("only an admin or a compliance officer may erase calls")
    reason = reason.strip()
    if not reason:
        raise EraseRefused("a reason is required")
    with rt.db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise EraseRefused(f"call {call_id} not found")
        blocker = legal_hold_for(s, call)
        if blocker:
            audit.record(s, principal, "call.delete", object_type="call", object_id=call_id,
                         outcome="refused", detail={"reason": reason, "hold": blocker})
            s.commit()
            raise EraseRefused(f"call {call_id} is under legal hold ({blocker}); not erased")
        blob_key = call.blob_key
        # recorded with the keys first: a restored old backup will erase it again
        shred_list.append(rt.settings.key_file.parent, call_id)
        search_index.drop_call(s, call_id)
        call.wrapped_key = None  # the shred: explicit even though the row goes too
        s.flush()
        s.delete(call)  # cascades: parties, transcripts, segments, analysis, jobs, events
        _erase_side_records(s, call_id)
        rec = DeletionRecord(call_id=call_id, actor=principal.name, reason=reason,
                             policy=policy)
        s.add(rec)
        audit.record(s, principal, "call.delete", object_type="call", object_id=call_id,
                     detail={"reason": reason, "policy": policy})
    rt.blobs.delete(blob_key)  # after commit: a crash here leaves only undecryptable bytes
    return rec


def _erase_side_records(s: Session, call_id: str) -> None:
    """What other tables keep of the call without a foreign key: its alerts (evidence
    text), its webhook payloads (undelivered ones are dropped, sent ones blanked: the
    delivery log keeps that something was sent, not what), the same for its CRM
    activities, its after-call SMS (the customer's number and the text blanked, the
    record that one was sent kept) and its live-call row."""
    from sqlalchemy import delete, update

    from rokuon.store.models import Alert, LiveCall, WebhookDelivery
    from rokuon.store.models_integrations import CrmDelivery, SmsMessage

    s.execute(delete(Alert).where(Alert.call_id == call_id))
    s.execute(delete(WebhookDelivery).where(WebhookDelivery.call_id == call_id,
                                            WebhookDelivery.status == "pending"))
    s.execute(update(WebhookDelivery).where(WebhookDelivery.call_id == call_id)
              .values(payload='{"erased": true}'))
    s.execute(delete(CrmDelivery).where(CrmDelivery.call_id == call_id,
                                        CrmDelivery.status != "delivered"))
    s.execute(update(CrmDelivery).where(CrmDelivery.call_id == call_id)
              .values(payload='{"erased": true}', last_error=None))
    s.execute(update(SmsMessage).where(SmsMessage.call_id == call_id)
              .values(to_number="", body="", error=None))
    s.execute(delete(LiveCall).where(LiveCall.id == call_id))


def legal_hold_for(session: Session, call: Call) -> str | None:
    """Why the call may not be deleted: an active legal hold (``rokuon hold add``) or a
    ``legal_hold`` flag in the call's metadata."""
    from rokuon.compliance.holds import holds_for

    holds = holds_for(session, call)
    if holds:
        return f"hold {holds[0].id}: {holds[0].reason}"
    flag = (call.extra_metadata or {}).get("legal_hold")
    return str(flag) if flag else None
