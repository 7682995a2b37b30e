"""Coaching over HTTP and in the call page. Thin: parse, call rokuon.coaching, return.

API (JSON; a browser session sends X-CSRF-Token):
- ``GET  /api/calls/{id}/comments`` → ``{"comments": [thread…]}``
- ``POST /api/calls/{id}/comments`` ``{"body", "at_s"?, "kind"?: comment|bookmark,
  "parent_id"?}`` → 201 the comment
- ``POST /api/calls/{id}/comments/{comment_id}/ack`` (the call's agent)
- ``DELETE /api/calls/{id}/comments/{comment_id}`` (its author)
- ``PUT /api/calls/{id}/qa/{criterion}`` ``{"passed": bool, "reason"}`` / ``DELETE``
  → the effective QA
- ``GET /api/coaching/queue`` → the calls that need the coach's attention
Pages: the call page's forms post to ``/calls/{id}/comments…`` and ``/calls/{id}/qa/…``
and come back to the call; ``/coaching`` is the supervisor's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.access.door import AccessDenied, NotFound
from rokuon.coaching import comments, overrides
from rokuon.coaching import queue as coaching_queue
from rokuon.runtime import Runtime
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    read_auth,
    require_action,
    require_scope,
    runtime,
    ui_auth,
)

router = APIRouter()
JSON_BODY = Body(None)  # parsed by hand after the role check (a 403 before any 422)


def coach_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "coach")
    require_scope(auth, "calls:read")
    return auth


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, AccessDenied):
        return HTTPException(status_code=403, detail=str(exc))
    return HTTPException(status_code=422, detail=str(exc))


ERRORS = (NotFound, AccessDenied, comments.CommentError, overrides.OverrideError)


@contextmanager
def domain_errors(s: Session) -> Iterator[None]:
    """The coaching rules' refusals as HTTP answers (404 / 403 / 422), nothing written."""
    try:
        yield
    except ERRORS as exc:
        s.rollback()
        raise _fail(exc) from exc


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(status_code=422, detail="body: a JSON object is expected")
    return body


@router.get("/api/calls/{call_id}/comments")
def list_comments(call_id: str, auth: Auth = Depends(read_auth),
                  s: Session = Depends(db_session)) -> dict[str, Any]:
    with domain_errors(s):
        return {"comments": [t.as_dict() for t in comments.threads(s, auth.principal,
                                                                    call_id)]}


@router.post("/api/calls/{call_id}/comments", status_code=201)
def add_comment(request: Request, call_id: str, body: Any = JSON_BODY,
                auth: Auth = Depends(read_auth), s: Session = Depends(db_session)
                ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    b = _body(body)
    with domain_errors(s):
        c = comments.add(s, auth.principal, call_id, body=b.get("body"), at_s=b.get("at_s"),
                         kind=b.get("kind", "comment"), parent_id=b.get("parent_id"))
    return comments.as_dict(c)


@router.post("/api/calls/{call_id}/comments/{comment_id}/ack")
def ack_comment(request: Request, call_id: str, comment_id: int,
                auth: Auth = Depends(read_auth), s: Session = Depends(db_session)
                ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    with domain_errors(s):
        return comments.as_dict(comments.acknowledge(s, auth.principal, call_id, comment_id))


@router.delete("/api/calls/{call_id}/comments/{comment_id}")
def delete_comment(request: Request, call_id: str, comment_id: int,
                   auth: Auth = Depends(read_auth), s: Session = Depends(db_session)
                   ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    with domain_errors(s):
        comments.delete(s, auth.principal, call_id, comment_id)
    return {"deleted": comment_id}


@router.put("/api/calls/{call_id}/qa/{criterion}")
def override_qa(request: Request, call_id: str, criterion: str, body: Any = JSON_BODY,
                auth: Auth = Depends(coach_auth), s: Session = Depends(db_session)
                ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    b = _body(body)
    with domain_errors(s):
        return overrides.set_override(s, auth.principal, call_id, criterion,
                                      passed=b.get("passed"), reason=b.get("reason"))


@router.delete("/api/calls/{call_id}/qa/{criterion}")
def clear_qa(request: Request, call_id: str, criterion: str,
             auth: Auth = Depends(coach_auth), s: Session = Depends(db_session)
             ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    with domain_errors(s):
        return overrides.clear_override(s, auth.principal, call_id, criterion)


@router.get("/api/coaching/queue")
def queue_api(limit: int = 100, auth: Auth = Depends(coach_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
              ) -> dict[str, Any]:
    return {"calls": coaching_queue.build(s, auth.principal, rt.settings.timezone,
                                          limit=max(1, min(limit, 500)))}


# ---- pages: forms that come back to the call ------------------------------------------

def _back(call_id: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/calls/{call_id}#{anchor}", status_code=303)


def _num(v: str) -> float | None:
    v = v.strip().replace(",", ".")
    if not v:
        return None
    if ":" in v:  # m:ss as shown on the page
        m, _, sec = v.partition(":")
        try:
            return int(m) * 60 + float(sec)
        except ValueError:
            pass
    try:
        return float(v)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"'{v}' is not a time in the call") \
            from exc


def _form_csrf(request: Request, auth: Auth, csrf: str) -> None:
    """The form's hidden field, or the header a script sends."""
    check_csrf(auth, csrf or request.headers.get("x-csrf-token"))


@router.post("/calls/{call_id}/comments")
def comment_form(request: Request, call_id: str, csrf: str = Form(""), body: str = Form(""),
                 at: str = Form(""), kind: str = Form("comment"), parent_id: str = Form(""),
                 auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "read")
    try:
        parent = int(parent_id) if parent_id.strip() else None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail="parent_id: not a comment id") from exc
    with domain_errors(s):
        c = comments.add(s, auth.principal, call_id, body=body, at_s=_num(at), kind=kind,
                         parent_id=parent)
    return _back(call_id, f"comment-{c.parent_id or c.id}")


@router.post("/calls/{call_id}/comments/{comment_id}/ack")
def ack_form(request: Request, call_id: str, comment_id: int, csrf: str = Form(""),
             auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "read")
    with domain_errors(s):
        comments.acknowledge(s, auth.principal, call_id, comment_id)
    return _back(call_id, f"comment-{comment_id}")


@router.post("/calls/{call_id}/qa/{criterion}")
def override_form(request: Request, call_id: str, criterion: str, csrf: str = Form(""),
                  result: str = Form(""), reason: str = Form(""),
                  auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)
                  ) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "coach")
    with domain_errors(s):
        if result == "auto":
            overrides.clear_override(s, auth.principal, call_id, criterion)
        elif result in ("pass", "fail"):
            overrides.set_override(s, auth.principal, call_id, criterion,
                                   passed=result == "pass", reason=reason)
        else:
            raise overrides.OverrideError("result: pass, fail or auto")
    return _back(call_id, "qa")


@router.get("/coaching", response_class=HTMLResponse)
def coaching_page(request: Request, auth: Auth = Depends(ui_auth),
                  s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                  ) -> Response:
    from rokuon.web.ui import render

    require_action(auth, "coach")
    rows = coaching_queue.build(s, auth.principal, rt.settings.timezone, limit=200)
    return render(request, "coaching.html", auth=auth, rows=rows)
