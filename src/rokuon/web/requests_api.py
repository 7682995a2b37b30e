"""Data subject requests over HTTP: intake, identity, decisions, the package and its
expiring download link. Thin: parse, call the compliance services, return."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access.door import AccessDenied, NotFound
from rokuon.compliance import dsar, package, review
from rokuon.runtime import Runtime
from rokuon.store.models import DataRequest
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_scope, runtime

router = APIRouter()
REVIEW_REQUIRED = ("disclosure_review_required is on: build a draft (POST …/review), have a "
                   "second compliance officer approve it, then publish the review")


class NewRequest(BaseModel):
    kind: Literal["disclosure", "correction", "stop_use", "erasure"] = "disclosure"
    customer_number: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=200)
    contact: str | None = Field(None, max_length=320)
    detail: str | None = Field(None, max_length=5000)
    since: date | None = None
    until: date | None = None
    due_days: int = Field(14, ge=1, le=90)


class Verify(BaseModel):
    method: str = Field(..., min_length=2, max_length=300)
    note: str | None = Field(None, max_length=2000)


class Decide(BaseModel):
    decision: Literal["disclose", "partial", "refuse"]
    call_id: str | None = Field(None, max_length=32)
    ground: str | None = Field(None, max_length=20)


class Export(BaseModel):
    password: str = Field(..., min_length=package.MIN_PASSWORD, max_length=200)
    agent_voice: Literal["mute", "keep"] = "mute"
    link_days: int = Field(7, ge=1, le=30)


def _errors(exc: Exception) -> HTTPException:
    if isinstance(exc, AccessDenied):
        return HTTPException(status_code=403, detail=str(exc))
    if isinstance(exc, NotFound) or "not found" in str(exc):
        return HTTPException(status_code=404, detail=str(exc))
    return HTTPException(status_code=422, detail=str(exc))


@router.post("/api/requests", status_code=201)
def create(body: NewRequest, request: Request, auth: Auth = Depends(api_auth),
           s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        req = dsar.create_request(s, auth.principal, kind=body.kind,
                                  customer_number=body.customer_number, name=body.name,
                                  contact=body.contact, detail=body.detail,
                                  date_from=body.since, date_to=body.until,
                                  due_days=body.due_days, tz=rt.settings.timezone)
        return dsar.describe(s, req)
    except (dsar.RequestError, AccessDenied) as exc:
        raise _errors(exc) from exc


@router.get("/api/requests")
def list_requests(auth: Auth = Depends(api_auth), s: Session = Depends(db_session)
                  ) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        dsar._guard(auth.principal)
    except AccessDenied as exc:
        raise _errors(exc) from exc
    reqs = s.scalars(select(DataRequest).order_by(DataRequest.due_at)).all()
    return {"requests": [dsar.describe(s, r) for r in reqs]}


@router.get("/api/requests/{request_id}")
def show(request_id: str, auth: Auth = Depends(api_auth), s: Session = Depends(db_session)
         ) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        dsar._guard(auth.principal)
        return dsar.describe(s, dsar._get(s, request_id))
    except (dsar.RequestError, AccessDenied) as exc:
        raise _errors(exc) from exc


@router.post("/api/requests/{request_id}/verify")
def verify(request_id: str, body: Verify, request: Request, auth: Auth = Depends(api_auth),
           s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        return dsar.describe(s, dsar.verify_identity(s, auth.principal, request_id,
                                                     method=body.method, note=body.note))
    except (dsar.RequestError, AccessDenied) as exc:
        raise _errors(exc) from exc


@router.post("/api/requests/{request_id}/decide")
def decide(request_id: str, body: Decide, request: Request, auth: Auth = Depends(api_auth),
           s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        dsar.decide(s, auth.principal, request_id, body.decision, call_id=body.call_id,
                    reason=body.ground)
        return dsar.describe(s, dsar._get(s, request_id))
    except (dsar.RequestError, AccessDenied) as exc:
        raise _errors(exc) from exc


@router.post("/api/requests/{request_id}/export")
def export(request_id: str, body: Export, request: Request, auth: Auth = Depends(api_auth),
           rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Build the package and publish it behind an expiring link. Over HTTP the
    requester's identity must be verified first."""
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    if rt.settings.disclosure_review_required:
        raise HTTPException(status_code=409, detail=REVIEW_REQUIRED)
    try:
        blob, record = package.build(rt, auth.principal, request_id, password=body.password,
                                     agent_voice=body.agent_voice)
        token, exp = package.publish(rt, auth.principal, request_id, blob,
                                     valid_days=body.link_days)
    except (dsar.RequestError, package.PackageError, AccessDenied, NotFound) as exc:
        raise _errors(exc) from exc
    return {"request_id": request_id, "download_path": f"/requests/download/{token}",
            "expires_at": exp.expires_at.isoformat(), "sha256": record["sha256"],
            "calls": [i["call_id"] for i in record["included"]],
            "refused": [r["call_id"] for r in record["refused"]]}


@router.get("/requests/download/{token}")
def download(token: str, request: Request, rt: Runtime = Depends(runtime)) -> Response:
    """The requester's download: the token in the link is the credential (random, 256
    bits, stored hashed, expiring); the ZIP itself is encrypted with a password sent
    separately."""
    if len(token) > 100:
        raise HTTPException(status_code=404, detail="unknown or expired link")
    try:
        blob = package.fetch_published(rt, token, source=request.client.host
                                       if request.client else None)
    except package.PackageError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return Response(blob, media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="disclosure.zip"',
        "Cache-Control": "no-store"})


class ReviewDraft(BaseModel):
    agent_voice: Literal["mute", "keep"] = "mute"


class SpanState(BaseModel):  # checked by the service, after the permission check
    state: str | None = Field(None, max_length=20)


class NewSpan(BaseModel):
    start: float | None = Field(None, ge=0, le=86400)
    end: float | None = Field(None, gt=0, le=86400)
    note: str | None = Field(None, max_length=review.MAX_NOTE)


class Approve(BaseModel):
    note: str | None = Field(None, max_length=review.MAX_NOTE)


class Publish(BaseModel):
    password: str = Field(..., min_length=package.MIN_PASSWORD, max_length=200)
    link_days: int = Field(7, ge=1, le=30)


REVIEW_ERRORS = (dsar.RequestError, package.PackageError, review.ReviewError, AccessDenied,
                 NotFound)


def _write(auth: Auth, request: Request) -> None:
    require_scope(auth, "requests:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))


@router.post("/api/requests/{request_id}/review", status_code=201)
def review_draft(request_id: str, body: ReviewDraft, request: Request,
                 auth: Auth = Depends(api_auth), rt: Runtime = Depends(runtime)
                 ) -> dict[str, Any]:
    """Build the package as a draft with the detector's masking suggestions."""
    _write(auth, request)
    try:
        return review.draft(rt, auth.principal, request_id, agent_voice=body.agent_voice)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc


@router.get("/api/requests/{request_id}/review")
def review_show(request_id: str, auth: Auth = Depends(api_auth),
                s: Session = Depends(db_session)) -> dict[str, Any]:
    require_scope(auth, "requests:read")
    try:
        dsar._guard(auth.principal)
        dsar._get(s, request_id)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc
    rev = review.latest(s, request_id)
    if rev is None:
        raise HTTPException(status_code=404, detail=f"request {request_id} has no review yet")
    return review.describe(rev)


@router.post("/api/disclosure-reviews/{review_id}/calls/{call_id}/spans/{span_id}")
def review_span_state(review_id: str, call_id: str, span_id: str, body: SpanState,
                      request: Request, auth: Auth = Depends(api_auth),
                      s: Session = Depends(db_session)) -> dict[str, Any]:
    _write(auth, request)
    try:
        return review.set_state(s, auth.principal, review_id, call_id, span_id, body.state)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc


@router.post("/api/disclosure-reviews/{review_id}/calls/{call_id}/spans", status_code=201)
def review_span_add(review_id: str, call_id: str, body: NewSpan, request: Request,
                    auth: Auth = Depends(api_auth), rt: Runtime = Depends(runtime)
                    ) -> dict[str, Any]:
    _write(auth, request)
    try:
        return review.add_span(rt, auth.principal, review_id, call_id, start=body.start,
                               end=body.end, note=body.note)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc


@router.post("/api/disclosure-reviews/{review_id}/approve")
def review_approve(review_id: str, body: Approve, request: Request,
                   auth: Auth = Depends(api_auth), s: Session = Depends(db_session)
                   ) -> dict[str, Any]:
    _write(auth, request)
    try:
        return review.approve(s, auth.principal, review_id, note=body.note)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc


@router.post("/api/disclosure-reviews/{review_id}/publish")
def review_publish(review_id: str, body: Publish, request: Request,
                   auth: Auth = Depends(api_auth), rt: Runtime = Depends(runtime)
                   ) -> dict[str, Any]:
    """Only an approved review is published: the package is built from its spans."""
    _write(auth, request)
    try:
        token, record = review.publish(rt, auth.principal, review_id, password=body.password,
                                       valid_days=body.link_days)
    except REVIEW_ERRORS as exc:
        raise _errors(exc) from exc
    return {"review_id": review_id, "request_id": record["request"]["request_id"],
            "download_path": f"/requests/download/{token}", "expires_at": record["expires_at"],
            "sha256": record["sha256"], "calls": [i["call_id"] for i in record["included"]],
            "refused": [r["call_id"] for r in record["refused"]]}
