"""Fixtures for outbound integrations: an installation that may deliver to loopback, real
local HTTP receivers (a Standard Webhooks consumer, a fake Slack), a fast worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rokuon.integrations.delivery import DeliveryWorker

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret (24 bytes)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1. ``respond(request) -> (status, body, delay_s)``
    decides each answer (default 200 "ok" at once)."""

    respond: Callable[[Received], tuple[int, bytes, float]]
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    location: str | None = None  # sent with 3xx answers

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        end = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < end:
            time.sleep(0.01)
        assert len(self.requests) >= n, f"got {len(self.requests)} request(s), wanted {n}"
        return self.requests


def start_receiver(respond: Callable[[Received], tuple[int, bytes, float]]) -> Receiver:
    rec = Receiver(respond)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            n = int(self.headers.get("content-length") or 0)
            req = Received({k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(n), time.monotonic())
            rec.requests.append(req)
            status, body, delay = rec.respond(req)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                if rec.location and 300 <= status < 400:
                    self.send_header("location", rec.location)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.block_on_close = False
    rec.server = srv
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return rec


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(respond: Callable[[Received], tuple[int, bytes, float]] | None = None
             ) -> Receiver:
        rec = start_receiver(respond or (lambda _r: (200, b"ok", 0.0)))
        made.append(rec)
        return rec

    yield make
    for rec in made:
        assert rec.server is not None
        rec.server.shutdown()
        rec.server.server_close()


SLACK_BLOCKS = {"header", "section", "actions", "context", "divider"}


def slack_verdict(body: bytes) -> tuple[int, bytes]:
    """What Slack's incoming webhook answers: ``ok``, or 400 ``invalid_payload`` for a body
    that is not JSON, has neither text nor blocks, or breaks Block Kit's basic limits."""
    bad = (400, b"invalid_payload")
    try:
        doc = json.loads(body)
    except ValueError:
        return bad
    if not isinstance(doc, dict) or not (doc.get("text") or doc.get("blocks")):
        return bad
    for b in doc.get("blocks") or []:
        kind = b.get("type")
        if kind not in SLACK_BLOCKS:
            return bad
        text = b.get("text") or {}
        if kind == "header" and (text.get("type") != "plain_text"
                                 or not 0 < len(text.get("text", "")) <= 150):
            return bad
        if kind == "section":
            if text and (text.get("type") not in ("plain_text", "mrkdwn")
                         or not 0 < len(text.get("text", "")) <= 3000):
                return bad
            fields = b.get("fields") or []
            if not text and not fields or len(fields) > 10 or \
                    any(len(f.get("text", "")) > 2000 for f in fields):
                return bad
        if kind == "actions":
            for el in b.get("elements") or []:
                if el.get("type") != "button" or not str(el.get("url", "")).startswith(
                        ("http://", "https://")):
                    return bad
    return 200, b"ok"


@pytest.fixture
def fake_slack(receivers: Callable[..., Receiver]) -> Receiver:
    def respond(req: Received) -> tuple[int, bytes, float]:
        status, body = slack_verdict(req.body)
        return status, body, 0.0

    return receivers(respond)


@pytest.fixture
def rt(monkeypatch: pytest.MonkeyPatch, settings, installation):  # type: ignore[no-untyped-def]
    """The installation's runtime, allowed to deliver to loopback receivers."""
    from rokuon.config import load_settings
    from rokuon.install import open_runtime

    monkeypatch.setenv("ROKUON_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("ROKUON_PUBLIC_URL", "https://rokuon.example.jp")
    _, first = installation
    first.close()
    runtime = open_runtime(load_settings())
    yield runtime
    runtime.close()


@pytest.fixture
def worker(rt) -> Iterator[Callable[..., DeliveryWorker]]:  # type: ignore[no-untyped-def]
    started: list[DeliveryWorker] = []

    def make(**kw: Any) -> DeliveryWorker:
        opts: dict[str, Any] = {"poll_s": 0.05, "timeout_s": 0.5, "backoff_s": (0.1, 0.2)}
        opts.update(kw)
        w = DeliveryWorker(rt, **opts).start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop(timeout=2)
