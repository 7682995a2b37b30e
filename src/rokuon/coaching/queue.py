"""The coach's queue: the calls in the principal's scope that need attention — QA
failed, a complaint, no recording announcement, NG words, churn — newest first, with
what the coaching cycle has done on each (comments, acknowledged, overridden)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.access.principal import Principal
from rokuon.calls.document import iso
from rokuon.store.models import Call, CallComment, CallKeywordHit, CallKpi, QaOverride

NG_LIST = "ng"


def build(s: Session, principal: Principal, tz: str, *, limit: int = 100
          ) -> list[dict[str, Any]]:
    ng = exists().where(CallKeywordHit.call_id == Call.id, CallKeywordHit.list == NG_LIST)
    flagged = or_(CallKpi.qa_passed.is_(False), CallKpi.complaint.is_(True),
                  CallKpi.announced.is_(False), CallKpi.churn.is_(True), ng)
    q = door.scope_filter(principal, select(Call, CallKpi, ng.label("ng"))
                          .join(CallKpi, CallKpi.call_id == Call.id)
                          .where(flagged, Call.use_stopped_at.is_(None))
                          .order_by(Call.started_at.desc().nulls_last(),
                                    Call.created_at.desc()).limit(limit))
    rows = s.execute(q).all()
    ids = [c.id for c, _, _ in rows]
    notes: dict[str, tuple[int, int]] = {}
    if ids:
        for cid, n, open_ in s.execute(
                select(CallComment.call_id, func.count(),
                       func.sum(case((CallComment.acknowledged_at.is_(None), 1), else_=0)))
                .where(CallComment.call_id.in_(ids), CallComment.parent_id.is_(None),
                       CallComment.kind == "comment")
                .group_by(CallComment.call_id)):
            notes[cid] = (int(n), int(open_ or 0))
    overridden = set(s.scalars(select(QaOverride.call_id).where(QaOverride.call_id.in_(ids)))
                     ) if ids else set()
    out = []
    for call, k, has_ng in rows:
        reasons = [r for r, on in (("qa_failed", k.qa_passed is False),
                                   ("complaint", bool(k.complaint)),
                                   ("no_announcement", k.announced is False),
                                   ("ng_words", bool(has_ng)),
                                   ("churn", bool(k.churn))) if on]
        n, unacked = notes.get(call.id, (0, 0))
        out.append({"call_id": call.id, "started_at": iso(call.started_at, tz),
                    "agent": call.agent, "duration_s": call.duration_s,
                    "qa_score": call.qa_score, "reasons": reasons, "comments": n,
                    "unacknowledged": unacked, "overridden": call.id in overridden,
                    "state": "open" if n == 0 else ("waiting" if unacked else "done")})
    audit.record(s, principal, "coaching.queue", detail={"rows": len(out)})
    return out
