"""Request-scoped dependencies: the runtime, the database session and THE place
where a request's principal is resolved (session cookie or Bearer API token), with
the sign-in stages (password change, MFA) enforced in one spot."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from rokuon.access.principal import Principal
from rokuon.runtime import Runtime
from rokuon.store.models import User, WebSession
from rokuon.users.mfa import mfa_required
from rokuon.users.service import principal_for
from rokuon.users.sessions import resolve_session
from rokuon.users.tokens import SCOPES, resolve_token

SESSION_COOKIE = "rokuon_session"
# RFC 9110: a 401 names how to authenticate (Bearer: browsers show no password prompt)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rokuon"'}


def runtime(request: Request) -> Runtime:
    return request.app.state.rt


# the request's database sessions, committed by web.unit_of_work before the response
OPEN_SESSIONS = "rokuon.db_sessions"


def db_session(request: Request, rt: Runtime = Depends(runtime)) -> Iterator[Session]:
    """The request's unit of work. Its changes (audit rows, a new sign-in session) are
    committed before the first byte of the response is sent (web.unit_of_work), and
    rolled back when the handler fails."""
    with rt.db.session() as s:
        request.scope.setdefault(OPEN_SESSIONS, []).append(s)
        yield s


@dataclass
class Auth:
    user: User
    web_session: WebSession | None  # None for API tokens
    principal: Principal
    scopes: tuple[str, ...] = field(default=SCOPES)

    @property
    def pending_step(self) -> str | None:
        """What the user must still do before seeing anything: '/password', '/mfa/setup',
        '/mfa', or None."""
        if self.web_session is None:
            return None
        if self.user.must_change_password:
            return "/password"
        if mfa_required(self.user) and not self.user.mfa_enabled:
            return "/mfa/setup"
        if self.user.mfa_enabled and not self.web_session.mfa_passed:
            return "/mfa"
        return None


class LoginRequired(Exception):
    """Raised for UI routes; turned into a redirect (to /login or the pending step)."""

    def __init__(self, location: str = "/login") -> None:
        self.location = location


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def optional_auth(request: Request, s: Session = Depends(db_session),
                  rt: Runtime = Depends(runtime)) -> Auth | None:
    """Who is asking. Its own short transaction: committed here, so no request holds a
    database connection (or SQLite's write lock) while it waits for its next worker
    thread — under load that wait starved the very requests that held them."""
    auth = _resolve(request, s, rt)
    s.commit()
    return auth


def _resolve(request: Request, s: Session, rt: Runtime) -> Auth | None:
    source = client_address(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = resolve_token(s, header[7:].strip())
        if found is None:
            raise HTTPException(status_code=401, detail="invalid or expired API token",
                                headers=CHALLENGE)
        user, tok = found
        return Auth(user=user, web_session=None, principal=principal_for(user, source=source),
                    scopes=tuple(tok.scopes))
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found_s = resolve_session(s, token, idle_minutes=rt.settings.session_idle_minutes,
                              absolute_hours=rt.settings.session_absolute_hours)
    if found_s is None:
        return None
    user, ws = found_s
    return Auth(user=user, web_session=ws, principal=principal_for(user, source=source))


def api_auth(auth: Auth | None = Depends(optional_auth)) -> Auth:
    if auth is None:
        raise HTTPException(status_code=401, detail="sign-in required", headers=CHALLENGE)
    if auth.pending_step:
        raise HTTPException(status_code=403, detail=f"finish signing in first: "
                                                    f"{auth.pending_step}")
    return auth


def ui_session(auth: Auth | None = Depends(optional_auth)) -> Auth:
    """Signed in with a password (the pages that complete sign-in use this)."""
    if auth is None or auth.web_session is None:
        raise LoginRequired()
    return auth


def ui_auth(auth: Auth = Depends(ui_session)) -> Auth:
    """Fully signed in (password changed, MFA passed)."""
    if auth.pending_step:
        raise LoginRequired(auth.pending_step)
    return auth


def require_action(auth: Auth, action: str) -> None:
    """The role × action table (rokuon.access.permissions): 403 when the role may not."""
    from rokuon.access.permissions import Forbidden, require

    try:
        require(auth.principal, action)
    except Forbidden as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc


def require_scope(auth: Auth, scope: str) -> None:
    if scope not in auth.scopes:
        raise HTTPException(status_code=403, detail=f"the API token lacks the scope {scope}")


def read_auth(auth: Auth = Depends(api_auth)) -> Auth:
    """The one read check of the JSON API, before any body is parsed (a 403 comes
    before a 422)."""
    require_action(auth, "read")
    require_scope(auth, "calls:read")
    return auth


def check_csrf(auth: Auth, token: str | None) -> None:
    """Cookie-authenticated writes need the session's CSRF token; token-authenticated
    requests carry no ambient credentials and need none."""
    if auth.web_session is None:
        return
    if not token or not hmac.compare_digest(token, auth.web_session.csrf_token):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong")


def search_text(q: str) -> str:
    """A search query as typed: control characters (NUL …) are refused with a 400 that
    says so, instead of reaching the database (PostgreSQL rejects NUL: a 500)."""
    import unicodedata

    bad = sorted({f"U+{ord(ch):04X}" for ch in q if unicodedata.category(ch) == "Cc"
                  and ch not in "\t"})
    if bad:
        raise HTTPException(status_code=400, detail=f"q: the search text contains control "
                                                    f"characters ({', '.join(bad[:5])})")
    return q
