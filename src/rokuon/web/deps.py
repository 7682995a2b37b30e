"""Request-scoped dependencies: the runtime, the database session and THE place
where a request's principal is resolved (session cookie)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from rokuon.access.principal import Principal
from rokuon.runtime import Runtime
from rokuon.store.models import User, WebSession
from rokuon.users.service import principal_for, resolve_session

SESSION_COOKIE = "rokuon_session"


def runtime(request: Request) -> Runtime:
    return request.app.state.rt


def db_session(rt: Runtime = Depends(runtime)) -> Iterator[Session]:
    with rt.db.session() as s:
        yield s


@dataclass
class Auth:
    user: User
    web_session: WebSession
    principal: Principal


class LoginRequired(Exception):
    """Raised for UI routes; turned into a redirect to /login."""


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def optional_auth(request: Request, s: Session = Depends(db_session),
                  rt: Runtime = Depends(runtime)) -> Auth | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = resolve_session(s, token, idle_minutes=rt.settings.session_idle_minutes,
                            absolute_hours=rt.settings.session_absolute_hours)
    if found is None:
        return None
    user, ws = found
    return Auth(user=user, web_session=ws,
                principal=principal_for(user, source=client_address(request)))


def api_auth(auth: Auth | None = Depends(optional_auth)) -> Auth:
    if auth is None:
        raise HTTPException(status_code=401, detail="sign-in required")
    if auth.user.must_change_password:
        raise HTTPException(status_code=403, detail="password change required")
    return auth


def ui_auth(auth: Auth | None = Depends(optional_auth)) -> Auth:
    if auth is None:
        raise LoginRequired()
    return auth


def check_csrf(auth: Auth, token: str | None) -> None:
    import hmac

    if not token or not hmac.compare_digest(token, auth.web_session.csrf_token):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
