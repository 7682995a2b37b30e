"""REST API (JSON). Thin: parse, call a service, return."""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rokuon.access.door import AccessDenied, NotFound, get_call, open_break_glass
from rokuon.calls.ingest import IngestError, ingest_stream
from rokuon.calls.listing import ListError, page
from rokuon.calls.metadata import MetadataError, parse_metadata, validate_channel_roles
from rokuon.calls.search_cursor import CursorError
from rokuon.calls.service import CallFilter, search_page, show_call
from rokuon.runtime import Runtime
from rokuon.store.blobs import BlobTooLargeError
from rokuon.web.audio import range_response, streaming_range_response
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    require_action,
    require_scope,
    runtime,
    search_text,
)

router = APIRouter(prefix="/api")


def call_filter(since: date | None = None, until: date | None = None,
                agent: str | None = None, direction: str | None = Query(
                    None, pattern="^(inbound|outbound)$"),
                team: str | None = Query(None, max_length=100),
                min_score: float | None = Query(None, ge=0, le=100),
                max_score: float | None = Query(None, ge=0, le=100),
                flag: str | None = Query(None, max_length=30),
                keyword: str | None = Query(None, max_length=200),
                customer_number: str | None = Query(None, max_length=64),
                sort: str = Query("started", max_length=20),
                order: str = Query("desc", pattern="^(asc|desc)$"),
                limit: int = Query(200, ge=1, le=1000), offset: int = Query(0, ge=0)
                ) -> CallFilter:
    f = CallFilter(since=since, until=until, agent=agent or None, direction=direction,
                   team=team or None, min_score=min_score, max_score=max_score,
                   flag=flag or None, keyword=keyword or None,
                   customer_number=customer_number or None, sort=sort,
                   descending=order == "desc", limit=limit, offset=offset)
    try:
        return f.check()
    except ListError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@router.get("/calls")
def api_list_calls(f: CallFilter = Depends(call_filter), auth: Auth = Depends(api_auth),
                   s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                   ) -> dict[str, Any]:
    """Calls in scope, filtered and sorted; ``total`` counts every match (``limit`` /
    ``offset`` page through them)."""
    require_scope(auth, "calls:read")
    result = page(s, auth.principal, f, rt.settings.timezone)
    s.commit()  # the audit row, before the response (and its serialisation) starts
    return result


@router.get("/calls/{call_id}")
def api_show_call(call_id: str, words: bool = False, auth: Auth = Depends(api_auth),
                  s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                  ) -> dict[str, Any]:
    """A call outside one's scope opens only after POST …/break-glass (never by GET)."""
    require_scope(auth, "calls:read")
    require_action(auth, "read")
    try:
        doc = show_call(s, auth.principal, call_id, rt.settings.timezone, with_words=words)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    s.commit()  # the audit row, before the response (and its serialisation) starts
    return doc


@router.get("/search")
def api_search(q: str = Query(..., min_length=1, max_length=200),
               cursor: str | None = Query(None, max_length=400),
               after: str | None = Query(None, max_length=400),
               f: CallFilter = Depends(call_filter), auth: Auth = Depends(api_auth),
               s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
               ) -> dict[str, Any]:
    """Hits newest first, with ``total`` (up to 10 000; ``total_capped`` above it,
    ``total_exact`` false when reading candidates were counted) and ``next_cursor``
    (also ``next``; null on the last page) to pass back as ``cursor`` or ``after``."""
    require_scope(auth, "calls:read")
    q = search_text(q)
    try:
        page = search_page(s, auth.principal, q, f, rt.settings.timezone,
                           cursor=cursor or after)
    except CursorError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    s.commit()  # the audit row, before the response (and its serialisation) starts
    return page


@router.get("/calls/{call_id}/audio")
def api_audio(call_id: str, request: Request, purpose: str | None = None,
              download: bool = False, auth: Auth = Depends(api_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    """The recording, streamed from the encrypted store by byte range. Requires a stated
    purpose of use. Every request — whatever its Range header — passes the door and is
    audited; the audit row is committed before the first byte leaves."""
    require_scope(auth, "audio:read")
    action = "download" if download else "play"
    require_action(auth, action)
    from rokuon.engine.audio.playback import plan, to_wav_pcm16
    from rokuon.store.keys import WrappedKey

    range_header = request.headers.get("range")
    cache = request.app.state.audio_cache
    try:
        call = get_call(s, auth.principal, call_id, action=f"call.{action}", purpose=purpose,
                        require_purpose=True, detail={"range": range_header[:100]}
                        if range_header else None)
        if call.wrapped_key is None:
            raise NotFound(f"call {call_id} not found")
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    s.commit()  # the audit row is durable (and the write lock free) before any byte
    reader = rt.blobs.open(call.blob_key, WrappedKey.from_json(call.wrapped_key))
    try:
        how = plan(reader, reader.size, call.codec)
    except BaseException:
        reader.close()
        raise
    if how.kind == "transcode":
        with reader:
            data = cache.get(call)
            if data is None:
                data = to_wav_pcm16(reader)
                cache.put(call, data)
        resp = range_response(data, range_header, "audio/wav")
    else:
        resp = streaming_range_response(reader, how, range_header)
    if download:
        resp.headers["Content-Disposition"] = \
            f'attachment; filename="{call_id}.{how.extension}"'
    return resp


class BreakGlass(BaseModel):
    justification: str = Field(..., max_length=2000)


@router.post("/calls/{call_id}/break-glass")
def api_break_glass(call_id: str, body: BreakGlass, request: Request,
                    auth: Auth = Depends(api_auth), s: Session = Depends(db_session)
                    ) -> dict[str, Any]:
    """Open a call outside one's scope for a while, with a written justification
    (admin, compliance, supervisor; flagged for review). A deliberate POST with the
    CSRF token: a link cannot do it."""
    require_scope(auth, "calls:read")
    require_action(auth, "read")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        grant = open_break_glass(s, auth.principal, call_id, body.justification)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    s.commit()
    return {"call_id": call_id, "grant": grant.id, "until": grant.expires_at.isoformat()}


@router.delete("/calls/{call_id}")
def api_delete(call_id: str, request: Request, reason: str = Query(..., min_length=3),
               auth: Auth = Depends(api_auth), rt: Runtime = Depends(runtime)
               ) -> dict[str, Any]:
    """Erase a call (crypto-shred). Admin / compliance only; refused under legal hold."""
    from rokuon.calls.erase import EraseRefused, erase_call

    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    require_action(auth, "delete")
    try:
        rec = erase_call(rt, auth.principal, call_id, reason=reason)
    except EraseRefused as exc:
        code = 404 if "not found" in str(exc) else 403 if "only" in str(exc) else 409
        raise HTTPException(status_code=code, detail=str(exc)) from exc
    return {"call_id": call_id, "deleted": True, "deletion_record": rec.id}


class _Bridge:
    """Async request chunks → a blocking iterator for the ingest service (bounded, so
    memory stays small and back-pressure reaches the client)."""

    _END = object()

    def __init__(self) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=8)
        self.closed = threading.Event()  # the consumer stopped (finished or failed)

    def put(self, item: Any) -> None:
        while not self.closed.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self.q.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


async def _pump(stream: AsyncIterator[bytes], bridge: _Bridge, limit: int) -> None:
    total = 0
    loop = asyncio.get_running_loop()
    try:
        async for chunk in stream:
            if not chunk:
                continue
            total += len(chunk)
            await loop.run_in_executor(None, bridge.put, chunk)
            if total > limit:
                break  # the ingest service reports the limit
        await loop.run_in_executor(None, bridge.put, _Bridge._END)
    except BaseException as exc:  # client went away: stop the ingest cleanly
        await loop.run_in_executor(None, bridge.put, OSError(f"upload interrupted: {exc}"))


_PCT = re.compile(r"%[0-9A-Fa-f]{2}")


def metadata_header(raw: str) -> str:
    """The X-Rokuon-Metadata value: UTF-8 JSON, sent raw or percent-encoded (headers
    arrive decoded as Latin-1, so the raw bytes are recovered first)."""
    text = raw.encode("latin-1").decode("utf-8")
    return unquote(text, errors="strict") if _PCT.search(text) else text


@router.post("/calls", status_code=201)
async def api_upload(request: Request, filename: str | None = None,
                     channels: str | None = None, auth: Auth = Depends(api_auth),
                     rt: Runtime = Depends(runtime)) -> Response:
    require_scope(auth, "calls:write")
    check_csrf(auth, request.headers.get("x-csrf-token"))
    require_action(auth, "upload")
    limit = rt.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        return JSONResponse({"error": f"recording exceeds the upload limit of "
                                      f"{limit // (1024 * 1024)} MiB"}, status_code=413)
    name = (filename or request.headers.get("x-filename") or "upload").replace("/", "_")[:200]
    meta = None
    raw_meta = request.headers.get("x-rokuon-metadata")
    try:
        if raw_meta:
            meta = parse_metadata(metadata_header(raw_meta), source="X-Rokuon-Metadata")
        roles = validate_channel_roles(channels.split(",")) if channels else None
    except (MetadataError, UnicodeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except ValueError as exc:
        return JSONResponse({"error": f"channels: {exc}"}, status_code=422)

    bridge = _Bridge()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["r"] = ingest_stream(rt, bridge, name=name, meta=meta, channels=roles,
                                        source="api", actor=auth.principal)
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["e"] = exc
        finally:
            bridge.closed.set()  # the pump stops feeding

    t = threading.Thread(target=work, name="upload", daemon=True)
    t.start()
    pump = asyncio.create_task(_pump(request.stream(), bridge, limit))
    while t.is_alive():
        await asyncio.sleep(0.02)
    await pump
    if "e" in result:
        exc = result["e"]
        if isinstance(exc, IngestError):
            status = 413 if isinstance(exc.__cause__, BlobTooLargeError) else 400
            return JSONResponse({"error": str(exc)}, status_code=status)
        raise exc
    r = result["r"]
    if r.status == "duplicate":
        return JSONResponse({"status": "duplicate", "duplicate_of": r.duplicate_of,
                             "call_id": r.duplicate_of}, status_code=200)
    request.app.state.executor.notify()
    return JSONResponse({"call_id": r.call_id, "status": r.status}, status_code=201)
