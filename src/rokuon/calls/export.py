"""Call export: one row per call in the caller's scope (the access door's scope filter),
as CSV (UTF-8 with a BOM so Excel reads Japanese, formula injection neutralised) or
JSON Lines. Rows are read in batches and written as they come, so an export of a whole
year costs the memory of one batch. Every export is audited (``call.export``) before
its first row is written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.calls.document import iso
from rokuon.calls.listing import CallFilter, ListError, apply
from rokuon.cdr.service import mask_number
from rokuon.store.models import AnalysisResult, Call, CallKpi

FORMATS = ("csv", "jsonl")
COLUMNS = ("call_id", "started_at", "duration_s", "agent", "team", "queue", "direction",
           "qa_score", "complaint", "churn", "sentiment", "summary", "customer_number")
BATCH = 500
BOM = "\ufeff"
# a spreadsheet takes a cell starting with one of these as a formula (or a DDE call)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """A request that cannot be exported (the message names what is wrong)."""


def check(fmt: str, since: date | None, until: date | None) -> CallFilter:
    """The filter of one export; ExportError on an unknown format or reversed period."""
    if fmt not in FORMATS:
        raise ExportError(f"format: '{fmt}' is not one of {', '.join(FORMATS)}")
    try:
        return CallFilter(since=since, until=until).check()
    except ListError as exc:
        raise ExportError(str(exc)) from exc


def neutralise(value: str) -> str:
    """A text cell that a spreadsheet would run as a formula, made plain text (a leading
    apostrophe, as OWASP recommends)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _summary_text(payload: Any) -> str | None:
    if isinstance(payload, dict):
        for key in ("text", "extractive", "summary"):
            v = payload.get(key)
            if isinstance(v, str) and v.strip():
                return v.strip()
            if isinstance(v, dict) and isinstance(v.get("text"), str):
                return str(v["text"]).strip()
    return None


def _summaries(session: Session, ids: list[str]) -> dict[str, str]:
    """The newest ``summary`` analysis of each call that has one."""
    out: dict[str, str] = {}
    rows = session.scalars(select(AnalysisResult).where(
        AnalysisResult.call_id.in_(ids), AnalysisResult.analyzer == "summary")
        .order_by(AnalysisResult.version)).all()
    for r in rows:
        text = _summary_text(r.payload)
        if text:
            out[r.call_id] = text
    return out


def _sentiment(kpi: CallKpi | None) -> str | None:
    if kpi is None or kpi.negative is None:
        return None
    return "negative" if kpi.negative else "not_negative"


def _row(call: Call, kpi: CallKpi | None, summary: str | None, tz: str) -> dict[str, Any]:
    return {"call_id": call.id, "started_at": iso(call.started_at, tz),
            "duration_s": call.duration_s, "agent": call.agent,
            "team": (call.extra_metadata or {}).get("team") or call.queue,
            "queue": call.queue, "direction": call.direction, "qa_score": call.qa_score,
            "complaint": None if kpi is None else kpi.complaint,
            "churn": None if kpi is None else kpi.churn, "sentiment": _sentiment(kpi),
            "summary": summary, "customer_number": mask_number(call.customer_number)}


def rows(session: Session, principal: Principal, f: CallFilter, tz: str
         ) -> Iterator[dict[str, Any]]:
    """The rows in the order the calls were added (oldest first), read BATCH at a time
    (keyset pages, so a long export never re-reads or skips a row)."""
    after: tuple[Any, str] | None = None
    while True:
        q = select(Call, CallKpi).outerjoin(CallKpi, CallKpi.call_id == Call.id)
        q = door.scope_filter(principal, apply(q, f, tz))
        if after is not None:
            q = q.where((Call.created_at > after[0])
                        | ((Call.created_at == after[0]) & (Call.id > after[1])))
        found = session.execute(q.order_by(Call.created_at, Call.id).limit(BATCH)).all()
        if not found:
            return
        texts = _summaries(session, [c.id for c, _ in found])
        for c, k in found:
            yield _row(c, k, texts.get(c.id), tz)
        last = found[-1][0]
        after = (last.created_at, last.id)
        if len(found) < BATCH:
            return


def audit(session: Session, principal: Principal, f: CallFilter, fmt: str) -> None:
    """The audit row of one export (the caller commits it before writing rows)."""
    with door.audited(session, principal, "call.export", format=fmt,
                      since=str(f.since) if f.since else None,
                      until=str(f.until) if f.until else None):
        pass


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return neutralise(str(v))


def encode(records: Iterator[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The export's text, a chunk per row (CSV: BOM and header first)."""
    if fmt == "jsonl":
        for r in records:
            yield json.dumps(r, ensure_ascii=False) + "\n"
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    yield BOM + buf.getvalue()
    for r in records:
        buf.seek(0)
        buf.truncate()
        w.writerow([_cell(r[c]) for c in COLUMNS])
        yield buf.getvalue()
