"""Server-rendered pages: sign-in, password change, call list + search, call page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.door import NotFound
from rokuon.calls.service import CallFilter, list_calls, search, show_call
from rokuon.runtime import Runtime
from rokuon.users import mfa
from rokuon.users.service import (
    AccountLocked,
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
    ui_session,
)
from rokuon.web.highlight import transcript_pieces
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
    try:
        user = authenticate(s, email, password, client_address(request))
    except AccountLocked:
        s.commit()
        return render(request, "login.html", status_code=429, error="locked", email=email)
    if user is None:
        s.commit()  # keep the audit record of the failure (and the failure count)
        return render(request, "login.html", status_code=401, error="bad_login", email=email)
    return _new_session(request, s, user, mfa_passed=False)


def _new_session(request: Request, s: Session, user: Any, *, mfa_passed: bool) -> Response:
    """A fresh session id at every sign-in step (no session fixation)."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(s, old)
    token, ws = start_session(s, user)
    ws.mfa_passed = mfa_passed
    if user.must_change_password:
        nxt = "/password"
    elif mfa.mfa_required(user) and not user.mfa_enabled:
        nxt = "/mfa/setup"
    elif user.mfa_enabled and not mfa_passed:
        nxt = "/mfa"
    else:
        nxt = "/"
    resp = RedirectResponse(nxt, status_code=303)
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
def change_password(request: Request, new_password: str = Form(...), csrf: str = Form(""),
                    auth: Auth = Depends(ui_session), s: Session = Depends(db_session)
                    ) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    try:
        set_password(s, user, new_password)
    except UserError as exc:
        return render(request, "password.html", status_code=400, auth=auth, error=str(exc))
    passed = bool(auth.web_session and auth.web_session.mfa_passed)
    return _new_session(request, s, user, mfa_passed=passed)


@router.get("/mfa/setup", response_class=HTMLResponse)
def mfa_setup_page(request: Request, auth: Auth = Depends(ui_session),
                   s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                   ) -> Response:
    user = s.merge(auth.user)
    if user.mfa_enabled:
        return RedirectResponse("/", status_code=303)
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
    if not mfa.verify_totp(user, rt.keys, code):
        audit.record(s, auth.principal, "auth.mfa_enrol", outcome="failed")
        s.commit()
        return render(request, "mfa_setup.html", status_code=400, auth=auth, secret=None,
                      uri=None, qr=None, error="bad_code", codes=None)
    user.mfa_enabled = True
    codes = mfa.new_recovery_codes(user)
    audit.record(s, auth.principal, "auth.mfa_enrol", object_type="user",
                 object_id=str(user.id))
    resp = _new_session(request, s, user, mfa_passed=True)
    page = render(request, "mfa_setup.html", auth=None, secret=None, uri=None, qr=None,
                  error=None, codes=codes)
    page.headers["set-cookie"] = resp.headers["set-cookie"]
    return page


@router.get("/mfa", response_class=HTMLResponse)
def mfa_page(request: Request, auth: Auth = Depends(ui_session)) -> HTMLResponse:
    return render(request, "mfa.html", auth=auth, error=None)


@router.post("/mfa")
def mfa_verify(request: Request, code: str = Form(...), csrf: str = Form(""),
               auth: Auth = Depends(ui_session), s: Session = Depends(db_session),
               rt: Runtime = Depends(runtime)) -> Response:
    check_csrf(auth, csrf)
    user = s.merge(auth.user)
    ok = mfa.verify_totp(user, rt.keys, code) or mfa.use_recovery_code(user, code)
    audit.record(s, auth.principal, "auth.mfa", outcome="ok" if ok else "failed")
    if not ok:
        user.failed_logins = (user.failed_logins or 0) + 1
        s.commit()
        return render(request, "mfa.html", status_code=401, auth=auth, error="bad_code")
    user.failed_logins = 0
    return _new_session(request, s, user, mfa_passed=True)


def _parse_date(v: str | None) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError:
        return None


@router.get("/", response_class=HTMLResponse)
def call_list(request: Request, q: str = "", since: str = "", until: str = "", agent: str = "",
              direction: str = "", auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
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
    try:
        doc = show_call(s, auth.principal, call_id, rt.settings.timezone)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    pieces = transcript_pieces(doc["segments"], doc.get("analysis"))
    return render(request, "call.html", auth=auth, call=doc, pieces=pieces)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, actor: str = "", action: str = "", call: str = "",
               auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    from rokuon.access.door import can_read_audit

    if not can_read_audit(auth.principal):
        raise HTTPException(status_code=403, detail="the audit log is for auditors, "
                                                    "compliance officers and admins")
    rows = audit.query(s, actor=actor or None, action=action or None, object_id=call or None,
                       limit=500)
    entries = [audit.as_row(e) for e in rows]
    audit.record(s, auth.principal, "audit.query", detail={"rows": len(entries)})
    return render(request, "audit.html", auth=auth, entries=entries, actor=actor,
                  action=action, call=call)


@router.get("/compliance/report", response_class=HTMLResponse)
def checklist_page(request: Request, format: str = "html", auth: Auth = Depends(ui_auth),
                   rt: Runtime = Depends(runtime)) -> Response:
    """The security checklist report (HTML, or ?format=json / pdf)."""
    from rokuon.compliance import checklist

    try:
        rep = checklist.build(rt, auth.principal)
    except checklist.ChecklistError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    if format == "json":
        return JSONResponse(rep)
    if format == "pdf":
        return Response(checklist.to_pdf(rep), media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="checklist.pdf"'})
    return HTMLResponse(checklist.to_html(rep, pick_lang(request), "/static/style.css"))


@router.get("/audit.csv")
def audit_csv(actor: str = "", action: str = "", call: str = "",
              auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    from rokuon.access.door import can_read_audit

    if not can_read_audit(auth.principal):
        raise HTTPException(status_code=403, detail="the audit log is for auditors, "
                                                    "compliance officers and admins")
    rows = audit.query(s, actor=actor or None, action=action or None, object_id=call or None,
                       limit=100_000)
    audit.record(s, auth.principal, "audit.export", detail={"rows": len(rows)})
    return Response(audit.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                             "Cache-Control": "no-store"})
