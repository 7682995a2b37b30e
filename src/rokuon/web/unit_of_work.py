"""Commit the request's database work before its response starts.

FastAPI closes a ``yield`` dependency only after the response has been sent. For the
database session that meant: content left the server before its audit row was
committed, and a redirect from a sign-in step reached the browser before the new
session row existed (the next request then found no session and bounced to /login).

This ASGI middleware commits every session the request opened (web.deps.db_session)
when the response is about to start. If that commit fails, the client gets a 503 and
none of the original response: no content without its audit row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any

import anyio
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rokuon.web.deps import OPEN_SESSIONS

log = logging.getLogger("rokuon.web")

# Commits run on their own thread budget: when every worker thread of the default pool
# waits for the database write lock, the request holding that lock must still be able to
# commit (sharing the pool deadlocked until SQLite's busy timeout: "database is locked").
# One limiter per event loop (tests run several servers, each with its own loop).
_COMMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = \
    weakref.WeakKeyDictionary()


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    lim = _COMMITS.get(loop)
    if lim is None:
        lim = _COMMITS[loop] = anyio.CapacityLimiter(32)
    return lim


def _commit(sessions: list[Session]) -> None:
    for s in sessions:
        if s.in_transaction():
            s.commit()


def _rollback(sessions: list[Session]) -> None:
    for s in sessions:
        try:
            s.rollback()
        except Exception:  # noqa: BLE001 - already failing; the 503 is what matters
            log.exception("rollback after a failed commit")


class CommitBeforeResponse:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        failed = False

        async def send_after_commit(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the original response is dropped
            if message["type"] == "http.response.start":
                sessions: list[Any] = scope.get(OPEN_SESSIONS) or []
                if sessions:
                    try:
                        await anyio.to_thread.run_sync(_commit, sessions, limiter=_limiter())
                    except Exception:  # noqa: BLE001 - answered with a 503 below
                        log.exception("commit before the response failed")
                        await anyio.to_thread.run_sync(_rollback, sessions, limiter=_limiter())
                        failed = True
                        body = json.dumps({"error": "the server is busy; try again"}).encode()
                        await send({"type": "http.response.start", "status": 503,
                                    "headers": [(b"content-type", b"application/json"),
                                                (b"retry-after", b"1"),
                                                (b"content-length", str(len(body)).encode())]})
                        await send({"type": "http.response.body", "body": body})
                        return
            await send(message)

        await self.app(scope, receive, send_after_commit)
