"""Retention: each call is kept as long as its longest applicable policy says, then
crypto-shredded with a deletion record naming the policy — unless a legal hold
covers it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.erase import EraseRefused, erase_call
from rokuon.compliance.holds import holds_for
from rokuon.runtime import Runtime
from rokuon.store.models import Call, utcnow

log = logging.getLogger("rokuon.retention")


def retention_days(call: Call, policies: dict[str, int], default_days: int) -> tuple[int, str]:
    """(days, policy name): the longest policy among the call's purposes wins."""
    known = [(policies[p], p) for p in (call.purposes or []) if p in policies]
    return max(known) if known else (default_days, "default")


def expires_at(call: Call, policies: dict[str, int], default_days: int) -> datetime:
    days, _ = retention_days(call, policies, default_days)
    return (call.started_at or call.created_at) + timedelta(days=days)


@dataclass
class RetentionReport:
    deleted: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"deleted": self.deleted, "held": self.held, "failed": self.failed,
                "dry_run": self.dry_run}


def run_retention(rt: Runtime, actor: Principal, *, dry_run: bool = False,
                  now: datetime | None = None) -> RetentionReport:
    s_ = rt.settings
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    with rt.db.session() as s:
        due: list[tuple[str, str, int]] = []
        for call in s.scalars(select(Call).where(Call.wrapped_key.is_not(None))):
            if expires_at(call, s_.retention_days, s_.default_retention_days) > now:
                continue
            days, policy = retention_days(call, s_.retention_days, s_.default_retention_days)
            if holds_for(s, call) or (call.extra_metadata or {}).get("legal_hold"):
                report.held.append(call.id)
            else:
                due.append((call.id, policy, days))
    for call_id, policy, days in due:
        if dry_run:
            report.deleted.append(call_id)
            continue
        try:
            erase_call(rt, actor, call_id, reason=f"retention period ended ({days} days)",
                       policy=f"retention:{policy}:{days}d")
            report.deleted.append(call_id)
        except EraseRefused as exc:
            report.failed[call_id] = str(exc)
    if not dry_run:
        with rt.db.session() as s:
            audit.record(s, actor, "retention.run", detail={
                "deleted": len(report.deleted), "held": len(report.held),
                "failed": len(report.failed)})
    return report


class RetentionScheduler:
    """Runs retention inside ``rokuon serve`` every ``retention_interval_h`` hours."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RetentionScheduler:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="retention")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _loop(self) -> None:
        interval = self.rt.settings.retention_interval_h * 3600
        actor = Principal(name="retention-scheduler", role="admin", source="serve")
        while not self._stop.wait(min(60.0, interval)):
            try:
                r = run_retention(self.rt, actor)
                if r.deleted or r.held:
                    log.info("retention: %d deleted, %d held", len(r.deleted), len(r.held))
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("retention run failed")
            try:  # the daily CDR reconciliation ("no call was lost") runs alongside
                from rokuon.cdr.service import scheduled_reconcile

                scheduled_reconcile(self.rt)
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("CDR reconciliation failed")
            try:  # breach report deadlines (漏えい等報告): overdue / due soon
                from rokuon.compliance.breach import reminders

                reminders(self.rt)
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("breach reminders failed")
            self._stop.wait(max(0.0, interval - 60.0))
