"""Live capture endpoints: Twilio Media Streams and the generic WebSocket, and pause /
resume of a live call (keep card entry out of the recording)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketState

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.live.hub import LiveHub
from rokuon.live.registry import LiveRegistry, may_control
from rokuon.live.session import LiveError, LiveSession
from rokuon.live.twilio import TwilioStream, public_ws_url, signature_ok
from rokuon.live.websocket_protocol import GenericStream
from rokuon.runtime import Runtime
from rokuon.users.service import principal_for
from rokuon.users.tokens import resolve_token
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    require_action,
    require_scope,
)

log = logging.getLogger("rokuon.live")
router = APIRouter()
POLICY_VIOLATION = 1008


def _hub(ws: WebSocket) -> LiveHub:
    return ws.app.state.live_hub


def _twilio_token(rt: Runtime) -> str:
    return rt.settings.twilio_auth_token  # ROKUON_TWILIO_AUTH_TOKEN or config.toml


async def _pump(ws: WebSocket, rt: Runtime, stream: TwilioStream | GenericStream,
                hub: LiveHub) -> None:
    """Frames → stream until stop, close or idle timeout; then the call is stored."""
    idle = rt.settings.live_idle_timeout_s
    reason: str | None = None
    error: str | None = None
    try:
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=idle)
            except TimeoutError:
                reason = f"no audio for {idle:g} s: treated as ended"
                log.warning("live stream idle for %g s; storing what arrived", idle)
                break
            if msg["type"] == "websocket.disconnect":
                if stream.session is not None and not stream.session.finished:
                    reason = "the connection closed without 'stop'"
                break
            text, data = msg.get("text"), msg.get("bytes")
            if isinstance(stream, TwilioStream):
                if text is None:
                    raise LiveError("Media Streams send text frames only")
                if not await to_thread.run_sync(stream.handle_text, text):
                    break
            elif text is not None:
                reply = await to_thread.run_sync(stream.handle_text, text)
                if reply is not None:
                    await ws.send_text(json.dumps(reply))
                    if reply.get("event") == "stored":
                        break
            elif data is not None:
                await to_thread.run_sync(stream.handle_bytes, data)
    except LiveError as exc:
        reason = f"stream error: {exc}"
        error = str(exc)
        log.warning("live stream refused a frame: %s", exc)
    finally:
        session = stream.session
        if session is not None:
            try:
                await to_thread.run_sync(stream.finish, reason)
            except LiveError as exc:
                log.error("%s", exc)
            finally:
                hub.closed(session)
    # the call is stored before the client hears of an error or sees the socket close
    if ws.application_state == WebSocketState.CONNECTED:
        if error is not None:
            await ws.send_text(json.dumps({"event": "error", "error": error}))
        await ws.close()


@router.websocket("/ingest/twilio")
async def twilio_media_stream(ws: WebSocket) -> None:
    """Twilio Media Streams (`<Start><Stream url="wss://…/ingest/twilio">`). The upgrade
    must carry a valid X-Twilio-Signature; otherwise it is refused (HTTP 403)."""
    rt: Runtime = ws.app.state.rt
    token = _twilio_token(rt)
    url = public_ws_url(rt.settings.public_url, ws.url.scheme,
                        ws.headers.get("host", ""), ws.url.path, ws.url.query)
    if not signature_ok(token, url, ws.headers.get("x-twilio-signature")):
        log.warning("Twilio stream refused: %s", "no auth token configured "
                    "(ROKUON_TWILIO_AUTH_TOKEN)" if not token
                    else "missing or wrong X-Twilio-Signature for " + url.split("?")[0])
        await ws.close(code=POLICY_VIOLATION)
        return
    await ws.accept()
    hub = _hub(ws)
    stream = TwilioStream(rt, Principal("twilio", "system"), on_start=hub.opened)
    await _pump(ws, rt, stream, hub)


def _token_principal(rt: Runtime, ws: WebSocket) -> Principal | None:
    header = ws.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    from rokuon.access.permissions import allowed

    with rt.db.session() as s:
        found = resolve_token(s, header[7:].strip())
        if found is None:
            return None
        user, tok = found
        if "calls:write" not in tok.scopes:
            return None
        principal = principal_for(user, source=ws.client.host if ws.client else None)
    return principal if allowed(principal, "upload") else None


@router.websocket("/ingest/ws")
async def generic_stream(ws: WebSocket) -> None:
    """The generic live WebSocket (docs/live.md); an API token with calls:write in
    ``Authorization: Bearer``."""
    rt: Runtime = ws.app.state.rt
    principal = await to_thread.run_sync(_token_principal, rt, ws)
    if principal is None:
        log.warning("live WebSocket refused: no valid API token with calls:write")
        await ws.close(code=POLICY_VIOLATION)
        return
    await ws.accept()
    hub = _hub(ws)
    await _pump(ws, rt, GenericStream(rt, principal, on_start=hub.opened), hub)


def _live_session(registry: LiveRegistry, auth: Auth, call_id: str) -> LiveSession:
    session = registry.get(call_id)
    if session is None or not may_control(auth.principal, session):
        raise HTTPException(status_code=404, detail=f"no live call {call_id} in progress")
    return session


def _pause_or_resume(call_id: str, request: Request, auth: Auth, s: Session,
                     pause: bool) -> dict[str, Any]:
    require_scope(auth, "calls:write")
    require_action(auth, "upload")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    session = _live_session(request.app.state.live, auth, call_id)
    changed = session.pause() if pause else session.resume()
    audit.record(s, auth.principal, "call.pause" if pause else "call.resume",
                 object_type="call", object_id=call_id,
                 outcome="ok" if changed else "unchanged",
                 detail={"at_s": round(session.seconds, 3)})
    s.commit()
    return {"call_id": call_id, "paused": session.is_paused, "changed": changed,
            "at_s": round(session.seconds, 3), "spans": session.paused}


@router.post("/api/calls/{call_id}/pause")
def api_pause(call_id: str, request: Request, auth: Auth = Depends(api_auth),
              s: Session = Depends(db_session)) -> dict[str, Any]:
    """Stop keeping the sound of a live call (card entry): silence is recorded instead,
    so the timeline stays; audited. An API token with calls:write (an IVR), or the
    signed-in agent with the CSRF token."""
    return _pause_or_resume(call_id, request, auth, s, True)


@router.post("/api/calls/{call_id}/resume")
def api_resume(call_id: str, request: Request, auth: Auth = Depends(api_auth),
               s: Session = Depends(db_session)) -> dict[str, Any]:
    """Keep the sound of a paused live call again; audited."""
    return _pause_or_resume(call_id, request, auth, s, False)
