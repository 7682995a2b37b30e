"""The FastAPI application: UI + REST API + embedded pipeline workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from rokuon.access.playback_cache import PlaybackCache
from rokuon.live.hub import LiveHub
from rokuon.runtime import Runtime
from rokuon.web import (
    admin_web,
    api,
    api_docs,
    assist_api,
    breach_api,
    cdr_api,
    coaching_web,
    crm_web,
    dashboard_ui,
    export_web,
    integrations_api,
    live_board,
    live_preregister_api,
    live_rules_web,
    live_ws,
    log_redact,
    reports_api,
    requests_api,
    requests_ui,
    scorecards_web,
    signin,
    timeline_web,
    topics_ui,
    ui,
)
from rokuon.web.deps import LoginRequired
from rokuon.web.unit_of_work import CommitBeforeResponse

log = logging.getLogger("rokuon.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def same_origin(request: Request) -> bool:
    """Refuse a state-changing request that a browser sent from another site, before any
    handler runs: defence in depth beside the CSRF token, and the only guard for the
    sign-in form, which has no session yet.

    Browsers say where a request comes from in ``Sec-Fetch-Site`` (Fetch Metadata); it
    is trusted when present. Otherwise ``Origin`` must name this host (or, behind a
    reverse proxy, ``X-Forwarded-Host``: a cross-site form cannot set that header).
    ``Origin: null`` is what browsers send for our own forms under
    ``Referrer-Policy: no-referrer`` when they lack Fetch Metadata, so it passes, as do
    requests with neither header (scripts, curl): the session/CSRF checks still apply."""
    if request.method not in UNSAFE_METHODS:
        return True
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    netloc = urlsplit(origin).netloc.lower()
    hosts = {request.headers.get("host", "").lower()}
    hosts.update(h.strip().lower() for h in
                 request.headers.get("x-forwarded-host", "").split(",") if h.strip())
    return bool(netloc) and netloc in hosts


ERROR_PAGES = {400, 403, 404, 409, 413, 429}


def error_response(request: Request, status: int, detail: str,
                   headers: dict[str, str] | None = None) -> Response:
    """``{"error": ...}`` for the API (and other machine routes), a styled page in the
    reader's language for a browser."""
    path = request.url.path
    wants_page = "text/html" in request.headers.get("accept", "")
    if path.startswith(("/api/", "/ingest/")) or not wants_page:
        if path.startswith("/api/"):
            return JSONResponse({"error": detail}, status_code=status, headers=headers)
        return Response(f"{status}: {detail}", status_code=status, headers=headers,
                        media_type="text/plain; charset=utf-8")
    from rokuon.web.ui import render

    heading = f"error_{status}" if status in ERROR_PAGES else "error_other"
    resp = render(request, "error.html", status_code=status, auth=None, status=status,
                  heading=heading, detail=detail)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def create_app(rt: Runtime, *, start_workers: bool = True) -> FastAPI:
    from rokuon.pipeline.celery_executor import make_executor

    executor = make_executor(rt)  # in-process threads, or Celery when broker_url is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from rokuon.calls.ingest import sweep_orphans

        watcher = None
        try:
            removed = sweep_orphans(rt)
            if removed:
                log.warning("removed %d orphan blob(s) left by an interrupted import",
                            len(removed))
        except Exception:  # noqa: BLE001 - never block start-up on housekeeping
            log.exception("orphan sweep failed")
        try:
            from rokuon.live.recovery import recover_interrupted

            await to_thread.run_sync(recover_interrupted, rt)
        except Exception:  # noqa: BLE001 - a failed recovery is logged and kept for retry
            log.exception("recovering interrupted live calls failed")
        hub.start()
        audiosocket = None
        if rt.settings.audiosocket_listen:  # Asterisk AudioSocket (docs/live.md)
            from rokuon.live.audiosocket import AudioSocketServer

            audiosocket = app.state.audiosocket = AudioSocketServer(rt, hub).start()
        retention = deliveries = rescoring = None
        if start_workers:
            executor.start()
            from rokuon.scorecards.rescore import RescoreWorker

            rescoring = app.state.rescore = RescoreWorker(rt).start()
            from rokuon.integrations.delivery import DeliveryWorker

            deliveries = DeliveryWorker(rt).start()  # outbound webhooks and Slack
            if rt.settings.broker_url:  # scale-out: the cluster's single beat schedules
                from rokuon.pipeline.celery_beat import ClusterBeat

                retention = ClusterBeat(rt).start()
            else:
                from rokuon.compliance.retention import RetentionScheduler

                retention = RetentionScheduler(rt).start()
        if rt.settings.watch_dir:
            try:
                from rokuon.calls.watch import WatchFolder
            except ImportError:
                log.warning("watch_dir is set but this build has no watch-folder support")
            else:
                watcher = WatchFolder(rt, on_import=executor.notify).start()
        yield
        if audiosocket:
            # its calls in progress keep their spool for recovery, as the hub's do
            await to_thread.run_sync(audiosocket.stop)
        hub.stop()  # calls still streaming keep their spool for the next start's recovery
        if watcher:
            watcher.stop()
        if retention:
            retention.stop()
        if deliveries:
            deliveries.stop()
        if rescoring:
            rescoring.stop()
        executor.stop(timeout=5)

    log_redact.install()  # the download link's token never reaches the access log
    app = FastAPI(title="rokuon", lifespan=lifespan, docs_url=None,
                  openapi_url="/api/openapi.json", redoc_url=None)
    app.state.rt = rt
    app.state.executor = executor
    app.state.audio_cache = PlaybackCache(2)
    hub = LiveHub(rt, transcribe=start_workers and rt.settings.live_transcription)
    app.state.live_hub = hub
    app.state.live = hub.registry
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="static")
    app.include_router(signin.router)
    app.include_router(ui.router)
    app.include_router(api.router)
    app.include_router(requests_api.router)
    app.include_router(requests_ui.router)
    app.include_router(cdr_api.router)
    app.include_router(breach_api.router)
    app.include_router(live_ws.router)
    app.include_router(live_board.router)
    app.include_router(reports_api.router)
    app.include_router(dashboard_ui.router)
    app.include_router(topics_ui.router)
    app.include_router(integrations_api.router)
    app.include_router(coaching_web.router)
    app.include_router(scorecards_web.router)
    app.include_router(export_web.router)  # call export (CSV / JSONL)
    app.include_router(crm_web.router)  # CRM deliveries, after-call SMS
    app.include_router(timeline_web.router)
    app.include_router(admin_web.router)
    app.include_router(live_rules_web.router)
    app.include_router(live_preregister_api.router)
    app.include_router(assist_api.router)
    app.include_router(api_docs.router)  # Swagger UI, assets served here

    # innermost: the request's database work is committed before its response starts
    app.add_middleware(CommitBeforeResponse)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not same_origin(request):
            resp: Response = error_response(
                request, 403, "cross-origin request refused (Sec-Fetch-Site or Origin names "
                "another site; behind a proxy, pass Host or X-Forwarded-Host through)")
        else:
            resp = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if request.url.scheme == "https":
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # a bug: logged with its traceback; the reader gets the styled page (or JSON)
        # that names no internals
        log.error("unhandled error on %s %s", request.method, request.url.path,
                  exc_info=exc)
        return error_response(request, 500, "internal error: the server log has the details")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", []))
        return JSONResponse({"error": f"{where}: {err.get('msg')}"}, status_code=422)

    return app
