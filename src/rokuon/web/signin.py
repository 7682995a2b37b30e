"""Sign-in pages: password, first password change, MFA enrolment and check, sign-out.

Every step ends the old session and starts a new one (new id: no fixation), and the
database work of a step is committed before its redirect is sent (web.app's
commit-before-response), so the next request always finds the new session.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.runtime import Runtime
from rokuon.users import mfa, second_factor
from rokuon.users.password_change import change_password
from rokuon.users.service import AccountLocked, UserError, authenticate
from rokuon.users.sessions import end_session, start_session
from rokuon.users.throttle import Throttled
from rokuon.web.deps import (
    SESSION_COOKIE,
    Auth,
    check_csrf,
    client_address,
    db_session,
    runtime,
    ui_session,
)
from rokuon.web.ui import render

router = APIRouter()


def _set_session_cookie(resp: Response, request: Request, token: str) -> None:
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                    secure=request.url.scheme == "https")


def _signed_out(request: Request, s: Session, page: str, status: int, **ctx: Any
                ) -> Response:
    """A refusal that also ends the half-signed-in session (after a lockout)."""
    end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    s.commit()
    resp = render(request, page, status_code=status, auth=None, **ctx)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def _throttled(request: Request, s: Session, exc: Throttled, page: str, **ctx: Any
               ) -> Response:
    s.commit()
    resp = render(request, page, status_code=429, **ctx)
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error=None)


@router.post("/login")
def login(request: Request, email: str = Form(...), password: str = Form(...),
          s: Session = Depends(db_session)) -> Response:
    from rokuon.users import throttle

    source = client_address(request)
    try:
        throttle.check(s, source)
        user = authenticate(s, email, password, source)
    except Throttled as exc:
        return _throttled(request, s, exc, "login.html", error="throttled", email=email)
    except AccountLocked:
        s.commit()
        return render(request, "login.html", status_code=429, error="locked", email=email)
    if user is None:
        throttle.count_failure(s, source)
        s.commit()  # keep the audit record of the failure (and the failure count)
        return render(request, "login.html", status_code=401, error="bad_login", email=email)
    return _new_session(request, s, user, mfa_passed=False)


def _next_step(user: Any, mfa_passed: bool) -> str:
    if user.must_change_password:
        return "/password"
    if mfa.mfa_required(user) and not user.mfa_enabled:
        return "/mfa/setup"
    if user.mfa_enabled and not mfa_passed:
        return "/mfa"
    return "/"


def _new_session(request: Request, s: Session, user: Any, *, mfa_passed: bool,
                 response: Response | None = None) -> Response:
    """A fresh session id at every sign-in step (no session fixation)."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(s, old)
    token, _ = start_session(s, user, mfa_passed=mfa_passed)
    resp = response or RedirectResponse(_next_step(user, mfa_passed), status_code=303)
    _set_session_cookie(resp, request, token)
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), auth: Auth = Depends(ui_session),
           s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, auth: Auth = Depends(ui_session)) -> HTMLResponse:
    return render(request, "password.html", auth=auth, error=None)


@router.post("/password")
def password_change(request: Request, current_password: str = Form(""),
                    new_password: str = Form(...), code: str = Form(""),
                    csrf: str = Form(""), auth: Auth = Depends(ui_session),
                    s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                    ) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    try:
        checked = change_password(s, auth.principal, user, rt.keys, current=current_password,
                                  new=new_password, code=code)
    except Throttled as exc:
        return _throttled(request, s, exc, "password.html", auth=auth, error=str(exc))
    except AccountLocked:
        return _signed_out(request, s, "login.html", 429, error="locked", email=user.email)
    except UserError as exc:
        s.commit()  # the failed attempt stays counted and audited
        return render(request, "password.html", status_code=400, auth=auth, error=str(exc))
    return _new_session(request, s, user, mfa_passed=checked)


@router.get("/mfa/setup", response_class=HTMLResponse)
def mfa_setup_page(request: Request, auth: Auth = Depends(ui_session),
                   s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                   ) -> Response:
    user = s.merge(auth.user)
    if user.mfa_enabled:  # enrolment is for users without MFA only
        return RedirectResponse("/mfa" if auth.pending_step == "/mfa" else "/",
                                status_code=303)
    secret = mfa.new_secret(user, rt.keys)
    uri = mfa.provisioning_uri(user, rt.keys)
    return render(request, "mfa_setup.html", auth=auth, secret=secret, uri=uri,
                  qr=mfa.qr_svg(uri), error=None, codes=None)


@router.post("/mfa/setup", response_class=HTMLResponse)
def mfa_setup(request: Request, code: str = Form(...), csrf: str = Form(""),
              auth: Auth = Depends(ui_session), s: Session = Depends(db_session),
              rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    try:
        codes = second_factor.enrol(s, auth.principal, user, rt.keys, code)
    except second_factor.MfaNotAllowed as exc:
        s.commit()
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except Throttled as exc:
        return _throttled(request, s, exc, "mfa_setup.html", auth=auth, secret=None,
                          uri=None, qr=None, error="throttled", codes=None)
    except AccountLocked:
        return _signed_out(request, s, "login.html", 429, error="locked", email=user.email)
    if codes is None:
        s.commit()
        return render(request, "mfa_setup.html", status_code=400, auth=auth, secret=None,
                      uri=None, qr=None, error="bad_code", codes=None)
    page = render(request, "mfa_setup.html", auth=None, secret=None, uri=None, qr=None,
                  error=None, codes=codes)
    return _new_session(request, s, user, mfa_passed=True, response=page)


@router.get("/mfa", response_class=HTMLResponse)
def mfa_page(request: Request, auth: Auth = Depends(ui_session)) -> Response:
    if not auth.user.mfa_enabled:
        return RedirectResponse(auth.pending_step or "/", status_code=303)
    return render(request, "mfa.html", auth=auth, error=None)


@router.post("/mfa")
def mfa_verify(request: Request, code: str = Form(...), csrf: str = Form(""),
               auth: Auth = Depends(ui_session), s: Session = Depends(db_session),
               rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    try:
        ok = second_factor.verify_sign_in(s, auth.principal, user, rt.keys, code)
    except second_factor.MfaNotAllowed as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except Throttled as exc:
        return _throttled(request, s, exc, "mfa.html", auth=auth, error="throttled")
    except AccountLocked:
        return _signed_out(request, s, "login.html", 429, error="locked", email=user.email)
    if not ok:
        s.commit()
        return render(request, "mfa.html", status_code=401, auth=auth, error="bad_code")
    return _new_session(request, s, user, mfa_passed=True)
