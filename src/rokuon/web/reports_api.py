"""Reports over HTTP. Thin: check, call rokuon.reports, return JSON or CSV.

- ``GET /api/reports/kpis?group=agent|team|queue|day&since=&until=`` —
  ``{"total": {kpis}, "groups": [{"key", …kpis}]}`` (CONTRACT.md); ``&compare=1`` adds
  ``"period"`` and ``"previous"`` (the previous period's total and groups)
- ``GET /api/reports/keywords?since=&until=[&list=ng]`` — ``{"keywords": [{"list",
  "word", "count", "calls", "change"}]}``
- ``GET /api/reports/topics?since=&until=[&topics=5]`` — ``{"topics": [{"topic",
  "label", "terms", "calls", "previous", "change", "share", "examples"}],
  "calls_considered"}`` (VOC topics, rokuon.reports.topics)
- ``&format=csv`` on any of them: the table as CSV (with the previous period's figures)

The ``report`` permission (rokuon.access.permissions) and, for API tokens, the
``calls:read`` scope; figures cover the calls in the principal's scope only. Bad
periods or groups: 400 with ``{"error": "…"}`` naming the problem."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rokuon.reports import keywords as kw
from rokuon.reports import kpis
from rokuon.reports import topics as tp
from rokuon.reports.period import Period, ReportError, parse_period
from rokuon.reports.service import keywords_csv, kpis_csv, topics_csv
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, api_auth, db_session, require_action, require_scope, runtime

router = APIRouter()


def _period(auth: Auth, rt: Runtime, since: str | None, until: str | None) -> Period:
    require_scope(auth, "calls:read")
    require_action(auth, "report")
    try:
        return parse_period(since, until, rt.settings.timezone)
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def _fmt(format: str) -> str:  # noqa: A002 - the query parameter's name
    if format not in ("json", "csv"):
        raise HTTPException(status_code=400, detail="format must be json or csv")
    return format


def csv_response(text: str, name: str) -> Response:
    # a BOM so that spreadsheet programs read the Japanese as UTF-8
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@router.get("/api/reports/kpis", response_model=None)
def kpis_report(group: str | None = Query(None, max_length=20),
                since: str | None = Query(None, max_length=40),
                until: str | None = Query(None, max_length=40),
                format: str = "json", compare: bool = False,  # noqa: A002
                auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
                rt: Runtime = Depends(runtime)) -> dict[str, Any] | Response:
    period = _period(auth, rt, since, until)
    fmt = _fmt(format)
    try:
        rep = kpis.report(s, auth.principal, period, kpis.check_group(group))
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if fmt == "csv":
        return csv_response(kpis_csv(rep), f"kpis_{rep.group or 'total'}_{period.since}_"
                                           f"{period.until}.csv")
    doc = rep.contract()
    if compare:
        prev = period.previous()
        doc["period"] = {**period.as_dict(), "previous": prev.as_dict()}
        doc["previous"] = {"total": kpis.public(rep.previous_total),
                           "groups": [{"key": g["key"], **kpis.public(rep.previous_of(g["key"]))}
                                      for g in rep.groups]}
    return doc


@router.get("/api/reports/keywords", response_model=None)
def keywords_report(since: str | None = Query(None, max_length=40),
                    until: str | None = Query(None, max_length=40),
                    list_: list[str] = Query([], alias="list"),
                    format: str = "json",  # noqa: A002
                    auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
                    rt: Runtime = Depends(runtime)) -> dict[str, Any] | Response:
    period = _period(auth, rt, since, until)
    fmt = _fmt(format)
    rep = kw.report(s, auth.principal, period, lists=tuple(x[:50] for x in list_[:20]))
    if fmt == "csv":
        return csv_response(keywords_csv(rep), f"keywords_{period.since}_{period.until}.csv")
    return rep.contract()


@router.get("/api/reports/topics", response_model=None)
def topics_report(since: str | None = Query(None, max_length=40),
                  until: str | None = Query(None, max_length=40),
                  topics: int | None = Query(None, ge=1, le=tp.MAX_TOPICS),
                  format: str = "json",  # noqa: A002
                  auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
                  rt: Runtime = Depends(runtime)) -> dict[str, Any] | Response:
    period = _period(auth, rt, since, until)
    fmt = _fmt(format)
    try:
        rep = tp.report(s, auth.principal, period, topics=topics)
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if fmt == "csv":
        return csv_response(topics_csv(rep), f"topics_{period.since}_{period.until}.csv")
    return rep.contract()
