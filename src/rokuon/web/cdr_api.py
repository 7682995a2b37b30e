"""CDR import and reconciliation over HTTP. Thin: parse, call rokuon.cdr.service, return.

- ``POST /api/cdr/import?format=asterisk&name=Master.csv`` — the file as the raw body
  (scope ``calls:write``, the ``admin`` permission; CSRF for cookie sessions)
- ``GET /api/cdr/reconcile?since=&until=&tolerance_s=&min_billsec=`` — the report
  (scope ``audit:read``)
- ``GET /api/cdr/runs`` — past reconciliations (scope ``audit:read``)"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rokuon.cdr import service
from rokuon.cdr.formats import FORMATS
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_scope, runtime

router = APIRouter()
MAX_CDR_BYTES = 200 * 1024 * 1024


def _error(exc: service.CdrError) -> HTTPException:
    msg = str(exc)
    return HTTPException(status_code=403 if "may not" in msg else 422, detail=msg)


@router.post("/api/cdr/import", status_code=201)
async def import_cdr(request: Request, format: str = Query(...),  # noqa: A002 - API name
                     name: str = Query("upload.csv", max_length=300),
                     tz: str | None = Query(None, max_length=64),
                     encoding: str = Query("utf-8", max_length=30),
                     allow_unknown_columns: bool = False,
                     auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
                     rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    if format not in FORMATS:
        raise HTTPException(status_code=422,
                            detail=f"format must be one of {', '.join(FORMATS)}")
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_CDR_BYTES:
        raise HTTPException(status_code=413, detail="CDR file too large")
    data = await request.body()
    if len(data) > MAX_CDR_BYTES:
        raise HTTPException(status_code=413, detail="CDR file too large")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = tz or rt.settings.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(status_code=422, detail=f"unknown time zone {zone!r}") from None
    try:
        return await run_in_threadpool(
            service.import_file, s, auth.principal, data, name=name, fmt=format, tz=zone,
            encoding=encoding, allow_unknown=allow_unknown_columns)
    except service.CdrError as exc:
        s.rollback()
        with rt.db.session() as s2:  # the request's own unit of work rolls back
            service.audit_failure(s2, auth.principal, "cdr.import", str(exc), file=name,
                                  format=format)
        raise _error(exc) from exc


@router.get("/api/cdr/reconcile")
def reconcile(since: date | None = None, until: date | None = None,
              tolerance_s: float = Query(service.TIME_TOLERANCE_S, ge=0, le=86400),
              min_billsec: int = Query(0, ge=0), auth: Auth = Depends(api_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
              ) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    try:
        return service.reconcile(s, auth.principal, tz=rt.settings.timezone, since=since,
                                 until=until, tolerance_s=tolerance_s,
                                 min_billsec=min_billsec)
    except service.CdrError as exc:
        raise _error(exc) from exc


@router.get("/api/cdr/runs")
def runs(auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    require_scope(auth, "audit:read")
    try:
        return {"runs": service.runs(s, auth.principal, tz=rt.settings.timezone)}
    except service.CdrError as exc:
        raise _error(exc) from exc
