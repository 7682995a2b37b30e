"""The live board: calls in progress with their transcript as it grows and their alerts,
for supervisors (their teams), agents (their own call) and admins (all). Server-sent
events push a fresh snapshot whenever something changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.live.hub import LiveHub
from rokuon.web.deps import Auth, api_auth, db_session, require_action, ui_auth
from rokuon.web.ui import render

router = APIRouter()
POLL_S = 0.25
KEEPALIVE_S = 15.0


def _hub(request: Request) -> LiveHub:
    return request.app.state.live_hub


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, auth: Auth = Depends(ui_auth)) -> Response:
    require_action(auth, "read")
    return render(request, "live.html", auth=auth)


@router.get("/api/live")
def api_live(request: Request, auth: Auth = Depends(api_auth),
             s: Session = Depends(db_session)) -> dict[str, Any]:
    """The calls in progress this principal may see (one snapshot)."""
    require_action(auth, "read")
    calls = _hub(request).board.snapshot(auth.principal)
    audit.record(s, auth.principal, "live.view", detail={"calls": len(calls)})
    s.commit()
    return {"calls": calls}


@router.get("/api/live/events")
async def api_live_events(request: Request, once: bool = False,
                          auth: Auth = Depends(api_auth),
                          s: Session = Depends(db_session)) -> Response:
    """Server-sent events: ``data: {"calls": […]}`` at once and on every change (a
    comment line every 15 s keeps proxies from closing it). ``once=true``: one event."""
    require_action(auth, "read")
    audit.record(s, auth.principal, "live.view", detail={"stream": True})
    s.commit()
    board = _hub(request).board
    principal = auth.principal

    async def events() -> AsyncIterator[str]:
        seen, quiet = -1, 0.0
        while True:
            if board.version != seen:
                seen = board.version
                doc = json.dumps({"calls": board.snapshot(principal)}, ensure_ascii=False)
                yield f"data: {doc}\n\n"
                quiet = 0.0
                if once:
                    return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keepalive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
