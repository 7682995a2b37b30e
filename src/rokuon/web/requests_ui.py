"""Data subject requests in the web UI (admin / compliance): list with deadlines,
intake form, and per request: identity check, decisions, the package link."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access.door import AccessDenied, NotFound
from rokuon.compliance import dsar, package, review
from rokuon.runtime import Runtime
from rokuon.store.models import DataRequest, utcnow
from rokuon.web.deps import Auth, check_csrf, db_session, runtime, ui_auth
from rokuon.web.requests_api import REVIEW_REQUIRED
from rokuon.web.ui import render

router = APIRouter()


def _guard(auth: Auth) -> None:
    try:
        dsar._guard(auth.principal)
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc


def _day(v: str) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"'{v}' is not a date") from exc


@router.get("/requests", response_class=HTMLResponse)
def requests_page(request: Request, auth: Auth = Depends(ui_auth),
                  s: Session = Depends(db_session)) -> Response:
    _guard(auth)
    reqs = [dsar.describe(s, r) for r in s.scalars(
        select(DataRequest).order_by(DataRequest.closed_at.is_not(None), DataRequest.due_at))]
    late = {r.id for r in dsar.overdue(s)}
    return render(request, "requests.html", auth=auth, requests=reqs, late=late, error=None)


@router.post("/requests")
def requests_create(request: Request, csrf: str = Form(""), kind: str = Form("disclosure"),
                    customer_number: str = Form(""), name: str = Form(""),
                    contact: str = Form(""), detail: str = Form(""), since: str = Form(""),
                    until: str = Form(""), auth: Auth = Depends(ui_auth),
                    s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                    ) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        req = dsar.create_request(s, auth.principal, kind=kind,
                                  customer_number=customer_number[:64] or None,
                                  name=name[:200] or None, contact=contact[:320] or None,
                                  detail=detail[:5000] or None, date_from=_day(since),
                                  date_to=_day(until), tz=rt.settings.timezone)
    except dsar.RequestError as exc:
        s.rollback()
        reqs = [dsar.describe(s, r) for r in s.scalars(select(DataRequest))]
        return render(request, "requests.html", status_code=422, auth=auth, requests=reqs,
                      late=set(), error=str(exc))
    return RedirectResponse(f"/requests/{req.id}", status_code=303)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(request_id: str, request: Request, auth: Auth = Depends(ui_auth),
                 s: Session = Depends(db_session)) -> Response:
    _guard(auth)
    try:
        doc = dsar.describe(s, dsar._get(s, request_id))
    except dsar.RequestError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    rev = review.latest(s, request_id)
    return render(request, "request.html", auth=auth, req=doc, grounds=dsar.REFUSAL_GROUNDS,
                  overdue=doc["due_at"] < utcnow().isoformat(), link=None, error=None,
                  review=review.describe(rev) if rev else None)


def _back(request_id: str) -> Response:
    return RedirectResponse(f"/requests/{request_id}", status_code=303)


@router.post("/requests/{request_id}/verify")
def request_verify(request_id: str, csrf: str = Form(""), method: str = Form(""),
                   note: str = Form(""), auth: Auth = Depends(ui_auth),
                   s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        dsar.verify_identity(s, auth.principal, request_id, method=method[:300],
                             note=note[:2000] or None)
    except dsar.RequestError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return _back(request_id)


@router.post("/requests/{request_id}/decide")
def request_decide(request_id: str, csrf: str = Form(""), decision: str = Form(""),
                   call_id: str = Form(""), ground: str = Form(""),
                   auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        dsar.decide(s, auth.principal, request_id, decision, call_id=call_id or None,
                    reason=ground or None)
    except dsar.RequestError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return _back(request_id)


@router.post("/requests/{request_id}/export", response_class=HTMLResponse)
def request_export(request_id: str, request: Request, csrf: str = Form(""),
                   password: str = Form(""), agent_voice: str = Form("mute"),
                   auth: Auth = Depends(ui_auth), rt: Runtime = Depends(runtime)
                   ) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    error = link = None
    if rt.settings.disclosure_review_required:
        raise HTTPException(status_code=409, detail=REVIEW_REQUIRED)
    try:
        blob, _ = package.build(rt, auth.principal, request_id, password=password,
                                agent_voice=agent_voice)
        token, _ = package.publish(rt, auth.principal, request_id, blob)
        link = f"/requests/download/{token}"
    except (dsar.RequestError, package.PackageError, NotFound) as exc:
        error = str(exc)
    return _page(request, auth, rt, request_id, link=link, error=error)


def _page(request: Request, auth: Auth, rt: Runtime, request_id: str, *,
          link: str | None = None, error: str | None = None) -> Response:
    with rt.db.session() as s:
        try:
            doc = dsar.describe(s, dsar._get(s, request_id))
        except dsar.RequestError as exc:  # an unknown request: 404, not a 500
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        rev = review.latest(s, request_id)
        rdoc = review.describe(rev) if rev else None
    return render(request, "request.html", status_code=422 if error else 200, auth=auth,
                  req=doc, grounds=dsar.REFUSAL_GROUNDS, overdue=False, link=link, error=error,
                  review=rdoc)


REVIEW_ERRORS = (dsar.RequestError, package.PackageError, review.ReviewError, AccessDenied,
                 NotFound)


def _float(v: str, what: str) -> float:
    try:
        return float(v)
    except ValueError as exc:
        raise review.ReviewError(f"{what}: '{v[:20]}' is not a number of seconds") from exc


@router.post("/requests/{request_id}/review", response_class=HTMLResponse)
def review_draft(request_id: str, request: Request, csrf: str = Form(""),
                 agent_voice: str = Form("mute"), auth: Auth = Depends(ui_auth),
                 rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        review.draft(rt, auth.principal, request_id, agent_voice=agent_voice)
    except REVIEW_ERRORS as exc:
        return _page(request, auth, rt, request_id, error=str(exc))
    return _back(request_id)


@router.post("/requests/{request_id}/review/{review_id}/span", response_class=HTMLResponse)
def review_span(request_id: str, review_id: str, request: Request, csrf: str = Form(""),
                call_id: str = Form(""), span_id: str = Form(""), state: str = Form(""),
                auth: Auth = Depends(ui_auth), rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        with rt.db.session() as s:
            review.set_state(s, auth.principal, review_id, call_id[:32], span_id, state)
    except REVIEW_ERRORS as exc:
        return _page(request, auth, rt, request_id, error=str(exc))
    return _back(request_id)


@router.post("/requests/{request_id}/review/{review_id}/add", response_class=HTMLResponse)
def review_add(request_id: str, review_id: str, request: Request, csrf: str = Form(""),
               call_id: str = Form(""), start: str = Form(""), end: str = Form(""),
               note: str = Form(""), auth: Auth = Depends(ui_auth),
               rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        review.add_span(rt, auth.principal, review_id, call_id[:32],
                        start=_float(start, "start"), end=_float(end, "end"),
                        note=note[:review.MAX_NOTE] or None)
    except REVIEW_ERRORS as exc:
        return _page(request, auth, rt, request_id, error=str(exc))
    return _back(request_id)


@router.post("/requests/{request_id}/review/{review_id}/approve", response_class=HTMLResponse)
def review_approve(request_id: str, review_id: str, request: Request, csrf: str = Form(""),
                   note: str = Form(""), auth: Auth = Depends(ui_auth),
                   rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        with rt.db.session() as s:
            review.approve(s, auth.principal, review_id, note=note[:review.MAX_NOTE] or None)
    except REVIEW_ERRORS as exc:
        return _page(request, auth, rt, request_id, error=str(exc))
    return _back(request_id)


@router.post("/requests/{request_id}/review/{review_id}/publish", response_class=HTMLResponse)
def review_publish(request_id: str, review_id: str, request: Request, csrf: str = Form(""),
                   password: str = Form(""), auth: Auth = Depends(ui_auth),
                   rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    _guard(auth)
    try:
        token, _ = review.publish(rt, auth.principal, review_id, password=password)
    except REVIEW_ERRORS as exc:
        return _page(request, auth, rt, request_id, error=str(exc))
    return _page(request, auth, rt, request_id, link=f"/requests/download/{token}")
