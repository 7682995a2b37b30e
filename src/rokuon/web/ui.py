"""Server-rendered pages: sign-in, password change, call list + search, call page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from rokuon.access.door import NotFound
from rokuon.calls.service import CallFilter, list_calls, search, show_call
from rokuon.runtime import Runtime
from rokuon.users.service import (
    UserError,
    authenticate,
    end_session,
    set_password,
    start_session,
)
from rokuon.web.deps import (
    SESSION_COOKIE,
    Auth,
    check_csrf,
    client_address,
    db_session,
    runtime,
    ui_auth,
)
from rokuon.web.i18n import pick_lang, translator

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    lang = pick_lang(request)
    resp = templates.TemplateResponse(request, name, {"t": translator(lang), "lang": lang,
                                                      **ctx}, status_code=status_code)
    if request.query_params.get("lang") == lang:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return resp


def _set_session_cookie(resp: Response, request: Request, token: str) -> None:
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                    secure=request.url.scheme == "https")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error=None)


@router.post("/login")
def login(request: Request, email: str = Form(...), password: str = Form(...),
          s: Session = Depends(db_session)) -> Response:
    user = authenticate(s, email, password, client_address(request))
    if user is None:
        s.commit()  # keep the audit record of the failure
        return render(request, "login.html", status_code=401, error="bad_login", email=email)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(s, old)  # no session fixation: always a fresh id at sign-in
    token, _ = start_session(s, user)
    resp = RedirectResponse("/password" if user.must_change_password else "/", status_code=303)
    _set_session_cookie(resp, request, token)
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), auth: Auth = Depends(ui_auth),
           s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, auth: Auth = Depends(ui_auth)) -> HTMLResponse:
    return render(request, "password.html", auth=auth, error=None)


@router.post("/password")
def change_password(request: Request, new_password: str = Form(...), csrf: str = Form(""),
                    auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    try:
        set_password(s, user, new_password)
    except UserError as exc:
        return render(request, "password.html", status_code=400, auth=auth, error=str(exc))
    end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    token, _ = start_session(s, user)  # privilege change: rotate the session id
    resp = RedirectResponse("/", status_code=303)
    _set_session_cookie(resp, request, token)
    return resp


def _parse_date(v: str | None) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError:
        return None


@router.get("/", response_class=HTMLResponse)
def call_list(request: Request, q: str = "", since: str = "", until: str = "", agent: str = "",
              direction: str = "", auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    if auth.user.must_change_password:
        return RedirectResponse("/password", status_code=303)
    f = CallFilter(since=_parse_date(since), until=_parse_date(until), agent=agent or None,
                   direction=direction if direction in ("inbound", "outbound") else None)
    tz = rt.settings.timezone
    hits = search(s, auth.principal, q, f, tz) if q.strip() else None
    calls = list_calls(s, auth.principal, f, tz)
    return render(request, "calls.html", auth=auth, calls=calls, hits=hits, q=q,
                  since=since, until=until, agent=agent, direction=direction)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_page(request: Request, call_id: str, auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    if auth.user.must_change_password:
        return RedirectResponse("/password", status_code=303)
    try:
        doc = show_call(s, auth.principal, call_id, rt.settings.timezone)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return render(request, "call.html", auth=auth, call=doc)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
