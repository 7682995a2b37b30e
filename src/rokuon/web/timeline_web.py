"""The call page's timeline over HTTP (the timeline itself: ``rokuon.calls.timeline``).

- ``GET /calls/{id}/timeline`` → the ``_timeline.html`` fragment. The call page polls it
  (static/timeline.js) every few seconds while the analysis runs. A poll is part of the
  view the page already audited: when this user's own ``call.view`` of this call is
  recent (``VIEW_WINDOW``) and the call is still in their scope, the poll reads without
  a new audit entry; otherwise (first fetch, a break-glass view, an old page) it goes
  through the door like the page and is audited as a ``call.view``.
- ``GET /api/calls/{id}/timeline`` → the timeline as JSON (an API read: audited through
  the door as ``call.view``, like ``GET /api/calls/{id}``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit, door
from rokuon.access.door import NotFound
from rokuon.access.principal import Principal
from rokuon.calls import timeline
from rokuon.calls.document import call_document
from rokuon.calls.service import show_call
from rokuon.runtime import Runtime
from rokuon.store.models import Call, utcnow
from rokuon.web.deps import Auth, db_session, read_auth, require_action, runtime, ui_auth
from rokuon.web.ui import render, templates

router = APIRouter()
# call.html includes _timeline.html; the call page's context has the call, not its timeline
templates.env.globals["call_timeline"] = timeline.build
VIEW_WINDOW = timedelta(minutes=30)
VIEW_OUTCOMES = ("ok", "break_glass")


def viewed_recently(s: Session, principal: Principal, call_id: str) -> bool:
    """This principal's own audited view of this call within ``VIEW_WINDOW``."""
    since = utcnow() - VIEW_WINDOW
    return any(e.action == "call.view" and e.outcome in VIEW_OUTCOMES
               for e in audit.query(s, since=since, actor=principal.name, action="call.view",
                                    object_id=call_id, limit=5))


def _in_scope(s: Session, principal: Principal, call_id: str) -> Call | None:
    return s.scalars(door.scope_filter(principal, select(Call).where(Call.id == call_id))
                     ).first()


def polled_document(s: Session, principal: Principal, call_id: str, tz: str
                    ) -> dict[str, Any]:
    """The call document for a poll: no audit entry while the page's view is recent,
    the audited door otherwise. NotFound as the door raises it."""
    if viewed_recently(s, principal, call_id):
        call = _in_scope(s, principal, call_id)
        if call is not None:
            return call_document(s, call, tz)
    return show_call(s, principal, call_id, tz)


@router.get("/calls/{call_id}/timeline", response_class=HTMLResponse)
def timeline_fragment(request: Request, call_id: str, auth: Auth = Depends(ui_auth),
                      s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                      ) -> Response:
    """The timeline fragment of the call page (polled while the analysis runs)."""
    require_action(auth, "read")
    try:
        doc = polled_document(s, auth.principal, call_id, rt.settings.timezone)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    resp = render(request, "_timeline.html", auth=auth, call=doc, tl=timeline.build(doc))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/api/calls/{call_id}/timeline")
def timeline_json(call_id: str, auth: Auth = Depends(read_auth),
                  s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                  ) -> dict[str, Any]:
    """The call's timeline (lanes, curves, markers; see rokuon.calls.timeline)."""
    try:
        doc = show_call(s, auth.principal, call_id, rt.settings.timezone)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return timeline.build(doc)
