"""Breach reports (漏えい等報告) over HTTP. Thin: parse, call
rokuon.compliance.breach, return. Admins and compliance officers (the ``export``
permission); token scopes ``requests:read`` / ``requests:write``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rokuon.compliance import breach
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_scope, runtime

router = APIRouter()


class NewIncident(BaseModel):
    title: str = Field(..., min_length=1, max_length=300)
    description: str = Field(..., min_length=1, max_length=10000)
    discovered_at: str | None = Field(None, max_length=40)
    occurred_from: str | None = Field(None, max_length=40)
    occurred_to: str | None = Field(None, max_length=40)
    scope: str | None = Field(None, max_length=5000)
    cause: str | None = Field(None, max_length=5000)
    unauthorized_access: bool = False
    data_items: list[str] = Field(default_factory=list, max_length=50)
    actors: list[str] = Field(default_factory=list, max_length=100)
    calls: list[str] = Field(default_factory=list, max_length=10000)
    window_from: str | None = Field(None, max_length=40)
    window_to: str | None = Field(None, max_length=40)


class Notice(BaseModel):
    method: str = Field(..., max_length=30)
    persons: list[str] = Field(default_factory=list, max_length=10000)
    all: bool = False
    note: str | None = Field(None, max_length=2000)


def _error(exc: breach.BreachError) -> HTTPException:
    msg = str(exc)
    code = 403 if "may not" in msg else 404 if "not found" in msg else 422
    return HTTPException(status_code=code, detail=msg)


@router.post("/api/breaches", status_code=201)
def create(body: NewIncident, request: Request, auth: Auth = Depends(api_auth),
           s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    tz = rt.settings.timezone
    try:
        inc = breach.create(
            s, auth.principal, title=body.title, description=body.description,
            discovered_at=breach.parse_time(body.discovered_at, "discovered_at", tz),
            occurred_from=breach.parse_time(body.occurred_from, "occurred_from", tz),
            occurred_to=breach.parse_time(body.occurred_to, "occurred_to", tz, end=True),
            scope=body.scope, cause=body.cause,
            unauthorized_access=body.unauthorized_access, data_items=body.data_items,
            actors=body.actors, call_ids=body.calls,
            window_from=breach.parse_time(body.window_from, "window_from", tz),
            window_to=breach.parse_time(body.window_to, "window_to", tz, end=True))
        out = breach.doc(s, inc, tz)
        out["affected"] = breach.affected(s, auth.principal, inc.id)["counts"]
        return out
    except breach.BreachError as exc:
        raise _error(exc) from exc


@router.get("/api/breaches")
def list_incidents(overdue: bool = False, auth: Auth = Depends(api_auth),
                   s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                   ) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        return {"incidents": breach.list_incidents(s, auth.principal, rt.settings.timezone,
                                                   overdue_only=overdue)}
    except breach.BreachError as exc:
        raise _error(exc) from exc


@router.get("/api/breaches/{incident_id}")
def show(incident_id: str, auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        return breach.show(s, auth.principal, incident_id, rt.settings.timezone)
    except breach.BreachError as exc:
        raise _error(exc) from exc


@router.get("/api/breaches/{incident_id}/affected")
def affected(incident_id: str, auth: Auth = Depends(api_auth),
             s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        return breach.affected(s, auth.principal, incident_id)
    except breach.BreachError as exc:
        raise _error(exc) from exc


@router.post("/api/breaches/{incident_id}/notices", status_code=201)
def notify(incident_id: str, body: Notice, request: Request, auth: Auth = Depends(api_auth),
           s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        ns = breach.notify(s, auth.principal, incident_id, persons=body.persons,
                           all_persons=body.all, method=body.method, note=body.note)
    except breach.BreachError as exc:
        raise _error(exc) from exc
    return {"incident_id": incident_id, "notified": [n.person for n in ns],
            "method": body.method}


@router.get("/api/breaches/{incident_id}/export", response_model=None)
def export(incident_id: str, format: Literal["json", "csv"] = "json",  # noqa: A002
           auth: Auth = Depends(api_auth), s: Session = Depends(db_session),
           rt: Runtime = Depends(runtime)) -> dict[str, Any] | Response:
    require_scope(auth, "requests:read")
    try:
        rep = breach.export(s, auth.principal, incident_id, rt.settings.timezone)
    except breach.BreachError as exc:
        raise _error(exc) from exc
    if format == "json":
        return rep
    return Response(breach.export_csv(rep), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="breach-{incident_id}.csv"'})
