"""``PUT /api/live/preregister/{key}``: metadata for a live call that is about to arrive
over a capture that cannot carry it (Asterisk AudioSocket: the key is the call's UUID,
or the UUID shared by its two legs without the last character). Body: the metadata
document of ``rokuon ingest --meta`` (agent, team, queue, direction, customer_number,
purposes, …). Needs the upload permission and, for an API token, ``calls:write``.
Answers ``{"key", "metadata", "expires_at"}``; 422 names what was wrong."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from rokuon.live import preregister
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_action, require_scope

router = APIRouter()
JSON_BODY = Body(None)


@router.put("/api/live/preregister/{key}", response_model=None)
def preregister_api(request: Request, key: str, body: Any = JSON_BODY,
                    auth: Auth = Depends(api_auth), s: Session = Depends(db_session)) -> Any:
    require_action(auth, "upload")
    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        return preregister.register(s, auth.principal, key, body)
    except preregister.PreregisterError as exc:
        s.rollback()
        return JSONResponse({"error": str(exc)}, status_code=422)
