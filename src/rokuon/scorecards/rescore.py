"""Re-score past calls with one scorecard version, as a background run.

A run names a card and version, an optional period (days in the installation's time
zone, by the call's start) and who asked (their scope limits the calls). A worker
claims it with a lease, scores each call from what is stored — the transcript and the
other analyzers' results, no audio decoded, nothing transcribed again — writes the new
QA result (a supervisor's overrides still apply on top) and records the score before
and after. A run interrupted by a crash is claimed again when its lease expires and
goes on with the calls it has not done."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from rokuon.access import audit, door, permissions
from rokuon.access.principal import Principal
from rokuon.engine.analysis import qa
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.patterns import options
from rokuon.reports.period import ReportError, parse_day
from rokuon.runtime import Runtime
from rokuon.scorecards import versions
from rokuon.scorecards.validate import ScorecardError
from rokuon.store.models import (
    AnalysisResult,
    Call,
    CallKpi,
    CallStatus,
    RescoreDelta,
    RescoreRun,
    Transcript,
    utcnow,
)

log = logging.getLogger(__name__)
BATCH = 100
LEASE_S = 120.0
FINAL = ("done", "failed")


def _day_range(since: Any, until: Any, tz: str) -> tuple[datetime | None, datetime | None]:
    s = parse_day("since", since) if isinstance(since, str) and since.strip() else \
        since if isinstance(since, date) else None
    u = parse_day("until", until) if isinstance(until, str) and until.strip() else \
        until if isinstance(until, date) else None
    if s and u and u < s:
        raise ScorecardError([f"until ({u.isoformat()}) is before since ({s.isoformat()})"])
    zone = ZoneInfo(tz)
    return (datetime.combine(s, time.min, tzinfo=zone) if s else None,
            datetime.combine(u + timedelta(days=1), time.min, tzinfo=zone) if u else None)


def start(s: Session, principal: Principal, cfg: dict[str, Any], name: str, *,
          version: int | None = None, since: Any = None, until: Any = None,
          tz: str = "Asia/Tokyo") -> RescoreRun:
    """Queue a run (audited). ``version`` defaults to the card's newest."""
    permissions.require(principal, "scorecards")
    card = versions.get(s, cfg, name, version)
    try:
        lo, hi = _day_range(since, until, tz)
    except ReportError as exc:
        raise ScorecardError([str(exc)]) from None
    run = RescoreRun(name=name, version=card["version"], since=lo, until=hi,
                     requested_by={k: v for k, v in asdict(principal).items()
                                   if k in ("name", "role", "team", "agent_name")},
                     status="pending", total=0, done=0, changed=0)
    s.add(run)
    s.flush()
    audit.record(s, principal, "scorecard.rescore", object_type="scorecard", object_id=name,
                 detail={"run": run.id, "version": run.version,
                         "since": since or None, "until": until or None})
    return run


def _requester(run: RescoreRun) -> Principal:
    r = run.requested_by or {}
    return Principal(name=str(r.get("name") or "-"), role=str(r.get("role") or "auditor"),
                     team=r.get("team"), agent_name=r.get("agent_name"), source="rescore")


def _candidates(run: RescoreRun):  # type: ignore[no-untyped-def]
    q = select(Call.id).where(Call.status.in_([CallStatus.ANALYZED, CallStatus.INDEXED]),
                              Call.use_stopped_at.is_(None), Call.quarantined_at.is_(None),
                              Call.wrapped_key.is_not(None))
    when = func.coalesce(Call.started_at, Call.created_at)
    if run.since is not None:
        q = q.where(when >= run.since)
    if run.until is not None:
        q = q.where(when < run.until)
    return door.scope_filter(_requester(run), q)


def _prior(s: Session, call_id: str) -> dict[str, Any]:
    rows = s.scalars(select(AnalysisResult).where(AnalysisResult.call_id == call_id)
                     .order_by(AnalysisResult.version, AnalysisResult.id)).all()
    return {r.analyzer: r.payload for r in rows}  # the newest version of each wins


def rescore_call(s: Session, call_id: str, name: str, card: dict[str, Any],
                 cfg: dict[str, Any]) -> RescoreDelta | None:
    """Score one call with ``card``; None when the call is not scored with that card
    (another language's) or has nothing to score."""
    from rokuon.coaching.overrides import effective_qa
    from rokuon.pipeline.steps import engine_segments

    call = s.get(Call, call_id)
    tr = s.scalars(select(Transcript).where(Transcript.call_id == call_id,
                                            Transcript.is_current)).first()
    if call is None or tr is None:
        return None
    inp = CallInput(segments=engine_segments(s, tr.id), duration_s=call.duration_s,
                    language=tr.language or "ja", direction=call.direction)
    if qa.choose(inp, cfg) != name or not inp.segments:
        return None
    prior = _prior(s, call_id)
    old_auto = prior.get("qa") if isinstance(prior.get("qa"), dict) else {}
    old = effective_qa(s, call_id, old_auto) or {}
    new_auto = {"scorecard": name, "title": card.get("title", name),
                "scorecard_version": card["version"],
                **qa.score(card, inp, prior, options(cfg, cfg.get("qa")))}
    row = s.scalars(select(AnalysisResult).where(
        AnalysisResult.call_id == call_id, AnalysisResult.analyzer == "qa")
        .order_by(AnalysisResult.version.desc(), AnalysisResult.id.desc())).first()
    if row is None:
        s.add(AnalysisResult(call_id=call_id, analyzer="qa", version=qa.VERSION,
                             transcript_id=tr.id, payload=new_auto))
    else:
        row.payload = new_auto
    eff = effective_qa(s, call_id, new_auto) or {}
    call.qa_score = eff.get("score")
    kpi = s.get(CallKpi, call_id)
    if kpi is not None:
        kpi.qa_score, kpi.qa_passed = eff.get("score"), eff.get("passed")
    return RescoreDelta(call_id=call_id, old_score=old.get("score"),
                        new_score=eff.get("score"), old_passed=old.get("passed"),
                        new_passed=eff.get("passed"),
                        old_version=old_auto.get("scorecard_version", 0) if old_auto else None)


def claim(s: Session, worker: str) -> int | None:
    now = utcnow()
    run_id = s.scalars(select(RescoreRun.id).where(or_(
        RescoreRun.status == "pending",
        and_(RescoreRun.status == "running", RescoreRun.lease_expires_at < now)))
        .order_by(RescoreRun.id).limit(1)).first()
    if run_id is None:
        return None
    res = s.execute(update(RescoreRun).where(
        RescoreRun.id == run_id, or_(RescoreRun.status == "pending", and_(
            RescoreRun.status == "running", RescoreRun.lease_expires_at < now)))
        .values(status="running", lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=LEASE_S)))
    s.commit()
    return run_id if res.rowcount == 1 else None


def process(rt: Runtime, run_id: int, worker: str) -> None:
    """Score the run's calls in batches, each batch one transaction (with the lease
    extended); the calls done before an interruption are not scored twice."""
    try:
        with rt.db.session() as s:
            run = s.get(RescoreRun, run_id)
            assert run is not None
            cfg = versions.effective_config(s, rt.analysis_config)
            card = versions.get(s, cfg, run.name, run.version)
            ids = list(s.scalars(_candidates(run).order_by(Call.id)))
            done = set(s.scalars(select(RescoreDelta.call_id)
                                 .where(RescoreDelta.run_id == run_id)))
            run.total = len(ids)
        todo = [i for i in ids if i not in done]
        for at in range(0, len(todo), BATCH):
            with rt.db.session() as s:
                run = s.get(RescoreRun, run_id)
                assert run is not None
                if run.lease_owner != worker:
                    log.warning("re-score run %d: lease lost, stopping", run_id)
                    return
                changed = 0
                for cid in todo[at:at + BATCH]:
                    d = rescore_call(s, cid, run.name, card, cfg)
                    if d is not None:
                        d.run_id = run_id
                        s.add(d)
                        changed += d.old_score != d.new_score
                run.done += len(todo[at:at + BATCH])
                run.changed += changed
                run.lease_expires_at = utcnow() + timedelta(seconds=LEASE_S)
        with rt.db.session() as s:
            run = s.get(RescoreRun, run_id)
            assert run is not None
            run.status, run.finished_at, run.lease_owner = "done", utcnow(), None
            audit.record(s, "rescore-worker", "scorecard.rescore.done",
                         object_type="scorecard", object_id=run.name,
                         detail={"run": run_id, "calls": run.done, "changed": run.changed})
    except Exception as exc:  # noqa: BLE001 - the run is marked failed with the reason
        log.exception("re-score run %d failed", run_id)
        with rt.db.session() as s:
            run = s.get(RescoreRun, run_id)
            if run is not None:
                run.status, run.finished_at = "failed", utcnow()
                run.error, run.lease_owner = f"{type(exc).__name__}: {exc}"[:2000], None


def run_pending(rt: Runtime, worker: str = "rescore") -> int:
    """Process every claimable run now (the CLI's ``--wait``); how many ran."""
    n = 0
    while True:
        with rt.db.session() as s:
            run_id = claim(s, worker)
        if run_id is None:
            return n
        process(rt, run_id, worker)
        n += 1


class RescoreWorker:
    """Runs queued re-score runs inside ``rokuon serve``."""

    def __init__(self, rt: Runtime, poll_s: float = 2.0) -> None:
        self.rt, self.poll_s = rt, poll_s
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RescoreWorker:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rescore")
        self._thread.start()
        return self

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)

    def _loop(self) -> None:
        from rokuon.pipeline.executor import worker_name

        while not self._stop.is_set():
            try:
                run_pending(self.rt, f"{worker_name()}/rescore")
            except Exception:  # noqa: BLE001 - try again at the next poll
                log.exception("re-score worker")
            self._wake.wait(self.poll_s)
            self._wake.clear()


def summary(s: Session, principal: Principal, run_id: int, *, limit: int = 500
            ) -> dict[str, Any]:
    """The run and its deltas over the calls ``principal`` may see: mean change, pass
    rate before and after, the calls that changed most first."""
    permissions.require(principal, "scorecards")
    run = s.get(RescoreRun, run_id)
    if run is None:
        raise versions.UnknownScorecard(f"re-score run {run_id} does not exist")
    q = (select(RescoreDelta).join(Call, Call.id == RescoreDelta.call_id)
         .where(RescoreDelta.run_id == run_id).order_by(RescoreDelta.id))
    rows = s.scalars(door.scope_filter(principal, q)).all()
    scored = [r for r in rows if r.old_score is not None and r.new_score is not None]
    diffs = [r.new_score - r.old_score for r in scored]  # type: ignore[operator]

    def rate(vals: list[bool | None]) -> float | None:
        known = [v for v in vals if v is not None]
        return round(sum(known) / len(known), 3) if known else None

    calls = sorted(rows, key=lambda r: -abs((r.new_score or 0) - (r.old_score or 0)))
    return {"run": {"id": run.id, "scorecard": run.name, "version": run.version,
                    "status": run.status, "total": run.total, "done": run.done,
                    "changed": run.changed, "error": run.error,
                    "requested_by": (run.requested_by or {}).get("name"),
                    "created_at": run.created_at.isoformat(),
                    "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                    "since": run.since.isoformat() if run.since else None,
                    "until": run.until.isoformat() if run.until else None},
            "scored": len(rows),
            "mean_delta": round(sum(diffs) / len(diffs), 2) if diffs else None,
            "pass_rate_before": rate([r.old_passed for r in rows]),
            "pass_rate_after": rate([r.new_passed for r in rows]),
            "passed_now": sum(1 for r in rows if r.new_passed and not r.old_passed),
            "failed_now": sum(1 for r in rows if r.old_passed and not r.new_passed),
            "deltas": [{"call_id": r.call_id, "old_score": r.old_score,
                        "new_score": r.new_score, "old_passed": r.old_passed,
                        "new_passed": r.new_passed, "old_version": r.old_version,
                        "delta": None if r.old_score is None or r.new_score is None
                        else round(r.new_score - r.old_score, 1)}
                       for r in calls[:limit]]}


def runs(s: Session, principal: Principal, name: str | None = None, limit: int = 20
         ) -> list[dict[str, Any]]:
    """The newest runs: an admin sees every run, anyone else the runs they asked for
    (another team's run counts calls they may not see)."""
    permissions.require(principal, "scorecards")
    q = select(RescoreRun).order_by(RescoreRun.id.desc())
    if name:
        q = q.where(RescoreRun.name == name)
    rows = list(s.scalars(q.limit(limit if principal.role == "admin" else limit * 10)))
    if principal.role != "admin":
        rows = [r for r in rows if (r.requested_by or {}).get("name") == principal.name]
    return [{"id": r.id, "scorecard": r.name, "version": r.version, "status": r.status,
             "total": r.total, "done": r.done, "changed": r.changed,
             "requested_by": (r.requested_by or {}).get("name"),
             "created_at": r.created_at.isoformat()} for r in rows[:limit]]
