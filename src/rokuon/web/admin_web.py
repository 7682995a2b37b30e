"""User administration over HTTP and in the browser (admins only; every change audited by
``rokuon.users``; the same verbs as ``rokuon user …``). Thin: parse, call, answer.

API (JSON; a browser session sends X-CSRF-Token):
- ``GET  /api/users`` → ``{"users": [{user_id, email, role, team, agent_name, active,
  mfa_enabled, must_change_password, locked, created_at}]}``
- ``POST /api/users`` ``{"email", "role", "team"?, "agent_name"?}`` → 201 with the
  ``one_time_password`` (shown once)
- ``PUT  /api/users/{user_id}`` ``{"role"?, "team"?, "agent_name"?, "active"?}``
- ``POST /api/users/{user_id}/reset-mfa``, ``POST /api/users/{user_id}/reset-password``
Page: ``/admin/users`` (list, add, change role, (de)activate, reset MFA / password).
An admin cannot reset their own MFA or password here (that is /password's and the MFA
sign-in's job) nor deactivate or demote the last active admin.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.access.principal import ROLES
from rokuon.store.models import User
from rokuon.users import admin
from rokuon.users.service import UserError, create_user
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_action, ui_auth

router = APIRouter()
JSON_BODY = Body(None)
VERBS = ("role", "deactivate", "activate", "reset_mfa", "reset_password")


def admin_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "admin")
    return auth


def _email(s: Session, user_id: int) -> str:
    user = s.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    return user.email


def _text(body: dict[str, Any], key: str) -> str | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > 320:
        raise UserError(f"{key}: text of at most 320 characters")
    return v


def _refused(s: Session, exc: UserError) -> JSONResponse:
    s.rollback()
    return JSONResponse({"error": str(exc)}, status_code=422)


@router.get("/api/users")
def users_api(auth: Auth = Depends(admin_auth), s: Session = Depends(db_session)
              ) -> dict[str, Any]:
    return {"users": admin.listing(s)}


@router.post("/api/users", status_code=201, response_model=None)
def add_api(request: Request, body: Any = JSON_BODY, auth: Auth = Depends(admin_auth),
            s: Session = Depends(db_session)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        if not isinstance(body, dict):
            raise UserError("body: a JSON object is expected")
        user, password = create_user(s, auth.principal, _text(body, "email") or "",
                                     _text(body, "role") or "", _text(body, "team") or None,
                                     _text(body, "agent_name") or None)
    except UserError as exc:
        return _refused(s, exc)
    return {"user_id": user.id, "email": user.email, "role": user.role, "team": user.team,
            "one_time_password": password}


@router.put("/api/users/{user_id}", response_model=None)
def change_api(request: Request, user_id: int, body: Any = JSON_BODY,
               auth: Auth = Depends(admin_auth), s: Session = Depends(db_session)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    email = _email(s, user_id)
    out: dict[str, Any] = {"email": email}
    try:
        if not isinstance(body, dict) or not body:
            raise UserError("body: a JSON object with role, team, agent_name or active")
        unknown = set(body) - {"role", "team", "agent_name", "active"}
        if unknown:
            raise UserError(f"unknown field(s): {', '.join(sorted(unknown))}")
        if "active" in body:
            if not isinstance(body["active"], bool):
                raise UserError("active: true or false")
            out.update(admin.set_active(s, auth.principal, email, body["active"]))
        if any(k in body for k in ("role", "team", "agent_name")):
            role = _text(body, "role") or s.get(User, user_id).role  # type: ignore[union-attr]
            out.update(admin.set_role(s, auth.principal, email, role,
                                      team=_text(body, "team"),
                                      agent_name=_text(body, "agent_name")))
    except UserError as exc:
        return _refused(s, exc)
    return out


@router.post("/api/users/{user_id}/reset-mfa", response_model=None)
def reset_mfa_api(request: Request, user_id: int, auth: Auth = Depends(admin_auth),
                  s: Session = Depends(db_session)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    email = _email(s, user_id)
    try:
        return admin.reset_mfa(s, auth.principal, email)
    except UserError as exc:
        return _refused(s, exc)


@router.post("/api/users/{user_id}/reset-password", response_model=None)
def reset_password_api(request: Request, user_id: int, auth: Auth = Depends(admin_auth),
                       s: Session = Depends(db_session)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    email = _email(s, user_id)
    try:
        return admin.reset_password(s, auth.principal, email)
    except UserError as exc:
        return _refused(s, exc)


# ---- the page ------------------------------------------------------------------------

def _page(request: Request, auth: Auth, s: Session, *, error: str | None = None,
          created: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    from rokuon.web.ui import render

    resp = render(request, "admin_users.html", status_code=status_code, auth=auth,
                  users=admin.listing(s), roles=ROLES, error=error, created=created,
                  notice=request.query_params.get("done"))
    resp.headers["Cache-Control"] = "no-store"  # a one-time password may be on it
    return resp


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, auth: Auth = Depends(ui_auth),
               s: Session = Depends(db_session)) -> Response:
    require_action(auth, "admin")
    return _page(request, auth, s)


@router.post("/admin/users", response_class=HTMLResponse)
def add_form(request: Request, csrf: str = Form(""), email: str = Form(""),
             role: str = Form(""), team: str = Form(""), agent_name: str = Form(""),
             auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    require_action(auth, "admin")
    try:
        user, password = create_user(s, auth.principal, email[:320], role,
                                     team.strip()[:100] or None,
                                     agent_name.strip()[:200] or None)
    except UserError as exc:
        s.rollback()
        return _page(request, auth, s, error=str(exc), status_code=422)
    s.flush()
    return _page(request, auth, s, created={"email": user.email, "password": password})


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def change_form(request: Request, user_id: int, csrf: str = Form(""), verb: str = Form(""),
                role: str = Form(""), team: str = Form(""), agent_name: str = Form(""),
                auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    check_csrf(auth, csrf)
    require_action(auth, "admin")
    email = _email(s, user_id)
    try:
        if verb == "role":
            admin.set_role(s, auth.principal, email, role, team=team[:100],
                           agent_name=agent_name[:200])
        elif verb in ("deactivate", "activate"):
            admin.set_active(s, auth.principal, email, verb == "activate")
        elif verb == "reset_mfa":
            admin.reset_mfa(s, auth.principal, email)
        elif verb == "reset_password":
            res = admin.reset_password(s, auth.principal, email)
            s.flush()
            return _page(request, auth, s, created={"email": email,
                                                    "password": res["one_time_password"]})
        else:
            raise UserError(f"unknown change '{verb[:40]}' (one of {', '.join(VERBS)})")
    except UserError as exc:
        s.rollback()
        return _page(request, auth, s, error=str(exc), status_code=422)
    return RedirectResponse(f"/admin/users?done={verb}#user-{user_id}", status_code=303)
