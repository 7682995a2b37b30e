"""Manual QA overrides: a supervisor sets one criterion of a call's QA to passed or
failed with a reason. The automatic result stays in the analysis; the call's score and
its report figures use the effective result (automatic + overrides), also after the call
is analysed again. Every change is audited with the automatic result beside it."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit, door, permissions
from rokuon.access.principal import Principal
from rokuon.store.models import AnalysisResult, Call, CallKpi, QaOverride, utcnow

MIN_REASON = 5
MAX_REASON = 2000


class OverrideError(ValueError):
    """Bad input (422)."""


def apply(qa: dict[str, Any] | None, overrides: list[QaOverride]) -> dict[str, Any] | None:
    """The effective QA: ``qa`` (the analyzer's payload) with each overridden criterion
    set as the override says, the score and pass recomputed the analyzer's way."""
    if not isinstance(qa, dict) or not isinstance(qa.get("criteria"), list) or not overrides:
        return qa  # nothing to apply (or a malformed payload: shown as it is)
    by_id = {o.criterion: o for o in overrides}
    out = copy.deepcopy(qa)
    got = possible = 0.0
    for c in out["criteria"]:
        if not isinstance(c, dict):
            continue
        o = by_id.get(str(c.get("id")))
        if o is not None:
            c["automatic"] = {"passed": c.get("passed"), "points": c.get("points"),
                              "applicable": c.get("applicable")}
            c["passed"], c["applicable"] = o.passed, True
            c["points"] = float(c.get("weight") or 0) if o.passed else 0.0
            c["override"] = {"passed": o.passed, "reason": o.reason, "by": o.by,
                             "at": o.at.isoformat()}
        if c.get("applicable"):
            got += float(c.get("points") or 0)
            possible += float(c.get("weight") or 0)
    if by_id:
        out["automatic"] = {"score": qa.get("score"), "passed": qa.get("passed")}
        out["score"] = round(100 * got / possible, 1) if possible else 0.0
        out["passed"] = out["score"] >= float(qa.get("pass_score", 70))
        out["overridden"] = sorted(by_id)
    return out


def for_call(s: Session, call_id: str) -> list[QaOverride]:
    return list(s.scalars(select(QaOverride).where(QaOverride.call_id == call_id)
                          .order_by(QaOverride.criterion)))


def automatic_qa(s: Session, call_id: str) -> dict[str, Any] | None:
    row = s.scalars(select(AnalysisResult).where(
        AnalysisResult.call_id == call_id, AnalysisResult.analyzer == "qa")
        .order_by(AnalysisResult.version.desc(), AnalysisResult.id.desc())).first()
    return row.payload if row is not None else None


def effective_qa(s: Session, call_id: str, qa: dict[str, Any] | None = None
                 ) -> dict[str, Any] | None:
    return apply(qa if qa is not None else automatic_qa(s, call_id), for_call(s, call_id))


def _refresh_figures(s: Session, call: Call, eff: dict[str, Any] | None) -> None:
    score = eff.get("score") if isinstance(eff, dict) else None
    call.qa_score = score
    kpi = s.get(CallKpi, call.id)
    if kpi is not None and isinstance(eff, dict):
        kpi.qa_score, kpi.qa_passed = score, eff.get("passed")


def set_override(s: Session, principal: Principal, call_id: str, criterion: str, *,
                 passed: Any, reason: Any) -> dict[str, Any]:
    permissions.require(principal, "coach")
    call = door.get_call(s, principal, call_id, action="call.coach")
    if not isinstance(passed, bool):
        raise OverrideError("passed: must be true or false")
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise OverrideError(f"reason: say why (at least {MIN_REASON} characters)")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise OverrideError(f"reason: at most {MAX_REASON} characters of text")
    qa = automatic_qa(s, call.id)
    crits = {str(c.get("id")): c for c in (qa or {}).get("criteria", [])}
    if criterion not in crits:
        raise OverrideError(f"criterion {criterion!r}: not in this call's scorecard "
                            f"({', '.join(crits) or 'the call has no QA result'})")
    row = s.scalars(select(QaOverride).where(QaOverride.call_id == call.id,
                                             QaOverride.criterion == criterion)).first()
    before = None if row is None else row.passed
    if row is None:
        row = QaOverride(call_id=call.id, criterion=criterion, passed=passed,
                         reason=reason.strip(), by=principal.name)
        s.add(row)
    else:
        row.passed, row.reason, row.by, row.at = passed, reason.strip(), principal.name, utcnow()
    s.flush()
    eff = effective_qa(s, call.id, qa)
    _refresh_figures(s, call, eff)
    audit.record(s, principal, "qa.override", object_type="call", object_id=call.id,
                 detail={"criterion": criterion, "automatic": crits[criterion].get("passed"),
                         "previous_override": before, "passed": passed,
                         "reason": reason.strip()[:500],
                         "score": (eff or {}).get("score"),
                         "automatic_score": (qa or {}).get("score")})
    return eff or {}


def clear_override(s: Session, principal: Principal, call_id: str, criterion: str
                   ) -> dict[str, Any]:
    """Back to the automatic result for one criterion."""
    permissions.require(principal, "coach")
    call = door.get_call(s, principal, call_id, action="call.coach")
    row = s.scalars(select(QaOverride).where(QaOverride.call_id == call.id,
                                             QaOverride.criterion == criterion)).first()
    if row is None:
        raise OverrideError(f"criterion {criterion!r}: not overridden on this call")
    s.delete(row)
    s.flush()
    eff = effective_qa(s, call.id)
    _refresh_figures(s, call, eff)
    audit.record(s, principal, "qa.override.clear", object_type="call", object_id=call.id,
                 detail={"criterion": criterion, "was": row.passed,
                         "score": (eff or {}).get("score")})
    return eff or {}
