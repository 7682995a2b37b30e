"""The FastAPI application: UI + REST API + embedded pipeline workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from rokuon.runtime import Runtime
from rokuon.web import api, ui
from rokuon.web.audio import MemoryLRU
from rokuon.web.deps import LoginRequired

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


def create_app(rt: Runtime, *, start_workers: bool = True) -> FastAPI:
    from rokuon.pipeline.executor import EmbeddedExecutor

    executor = EmbeddedExecutor(rt)

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
        if start_workers:
            executor.start()
        if rt.settings.watch_dir:
            from rokuon.calls.watch import WatchFolder

            watcher = WatchFolder(rt, on_import=executor.notify).start()
        yield
        if watcher:
            watcher.stop()
        executor.stop(timeout=5)

    app = FastAPI(title="rokuon", lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    app.state.rt = rt
    app.state.executor = executor
    app.state.audio_cache = MemoryLRU(2)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="static")
    app.include_router(ui.router)
    app.include_router(api.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        resp: Response = await call_next(request)
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
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
        return Response(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code,
                        media_type="text/plain; charset=utf-8")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", []))
        return JSONResponse({"error": f"{where}: {err.get('msg')}"}, status_code=422)

    return app
