"""The delivery worker: sends the outbox (``WebhookDelivery`` rows) to the endpoints.

* Standard Webhooks: ``webhook-id`` (the event id, the same on every retry),
  ``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``
  (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed with the base64-decoded
  ``whsec_`` secret), made by the ``standardwebhooks`` package.
* Slack: the event as a Block Kit message (rokuon.integrations.slack).

Each attempt has a 10 s timeout (connect, each read, each write); a failed attempt is
retried after 5 s, 30 s, 2 min, 10 min and 1 h, then the delivery is dead (listed by
``rokuon webhooks deliveries --status dead``; ``webhooks retry`` sends it again).
Attempts run on a small thread pool with at most one in flight per endpoint, so a
receiver that hangs holds one thread for its timeout and never delays other endpoints.
A delivery is claimed with a lease in the database: several processes (the server,
``rokuon webhooks run``) can deliver from the same outbox without sending a row twice
at once; a process that dies mid-attempt leaves a lease that expires, then the row is
sent again (at-least-once: receivers deduplicate on ``webhook-id``).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import func, or_, select, update

import rokuon
from rokuon.integrations import slack
from rokuon.integrations.webhooks import (
    TEST_EVENT,
    UnsafeURLError,
    WebhookError,
    _wakeups,
    check_url,
    endpoint_key,
    make_event,
)
from rokuon.store.models import WebhookDelivery, WebhookEndpoint, utcnow

if TYPE_CHECKING:
    from rokuon.runtime import Runtime

log = logging.getLogger("rokuon.webhooks")

BACKOFF_S: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 3600.0)
TIMEOUT_S = 10.0
USER_AGENT = f"rokuon-webhooks/{rokuon.__version__}"
MAX_RESPONSE_BYTES = 4096
SLACK_PERMANENT = (400, 403, 404, 410)  # invalid_payload, no such channel …: retry won't help


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int | None = None
    error: str | None = None
    permanent: bool = False


def sign(key: bytes, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 signature>`` as the Standard Webhooks spec defines it."""
    from standardwebhooks.webhooks import Webhook

    return Webhook(key).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)


def request_for(kind: str, key: bytes | None, event_id: str, payload: str, *,
                public_url: str, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if kind == "slack":
        return slack.body(payload, public_url), headers
    if key is None:
        raise WebhookError("the endpoint has no signing secret")
    ts = int(time.time() if now is None else now)
    headers.update({"webhook-id": event_id, "webhook-timestamp": str(ts),
                    "webhook-signature": sign(key, event_id, ts, payload)})
    return payload.encode("utf-8"), headers


def post(url: str, body: bytes, headers: dict[str, str], *, kind: str, timeout: float,
         allow_private: bool) -> Outcome:
    """One HTTP attempt; never raises. Redirects are not followed (a 3xx fails)."""
    try:
        check_url(url, allow_private=allow_private)
    except UnsafeURLError as exc:
        return Outcome(False, None, str(exc))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
                client.stream("POST", url, content=body, headers=headers) as r:
            text = b""
            for chunk in r.iter_bytes():
                text += chunk
                if len(text) >= MAX_RESPONSE_BYTES:
                    break
            code = r.status_code
    except httpx.TimeoutException as exc:
        return Outcome(False, None, f"timed out after {timeout:g} s "
                                    f"({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
    if 200 <= code < 300:
        return Outcome(True, code)
    said = " ".join(text.decode("utf-8", "replace").split())[:200]
    return Outcome(False, code, f"HTTP {code}" + (f": {said}" if said else ""),
                   permanent=kind == "slack" and code in SLACK_PERMANENT)


def send_test(rt: Runtime, endpoint_id: str, *, timeout: float = TIMEOUT_S) -> Outcome:
    """Send a ``webhook.test`` ping to one endpoint now (nothing is stored)."""
    with rt.db.session() as s:
        ep = s.get(WebhookEndpoint, endpoint_id)
        if ep is None:
            raise WebhookError(f"no webhook {endpoint_id}")
        url, kind, key = ep.url, ep.kind, endpoint_key(ep, rt.keys)
    ev = make_event(TEST_EVENT, {"webhook_id": endpoint_id, "message": "rokuon test"})
    body, headers = request_for(kind, key, ev.id, ev.body, public_url=rt.settings.public_url)
    return post(url, body, headers, kind=kind, timeout=timeout,
                allow_private=rt.settings.webhook_allow_private)


class DeliveryWorker:
    """Sends due deliveries in the background (started by the web app, or by
    ``rokuon webhooks run``)."""

    def __init__(self, rt: Runtime, *, threads: int = 4, poll_s: float = 1.0,
                 timeout_s: float = TIMEOUT_S,
                 backoff_s: tuple[float, ...] = BACKOFF_S) -> None:
        self.rt = rt
        self.threads = max(1, threads)
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.backoff_s = tuple(backoff_s)
        self.lease_s = 2 * timeout_s + 30.0  # DNS, connect, send, read: then it expires
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._mu = threading.Lock()
        self._inflight: set[str] = set()  # endpoint ids with an attempt running
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._side_busy = False  # a CRM/SMS outbox batch is running on the pool

    @property
    def max_attempts(self) -> int:
        return len(self.backoff_s) + 1

    # ---- life cycle -----------------------------------------------------------------
    def start(self, *, loop: bool = True) -> DeliveryWorker:
        """Start the pool and (``loop``) the thread that claims due deliveries; without
        it, ``dispatch``/``drain`` are called by the owner."""
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="rokuon-webhook")
        if not loop:
            return self
        _wakeups.add(self._wake)
        self._thread = threading.Thread(target=self._loop, name="rokuon-webhooks",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; attempts in flight finish within their timeout (or their lease
        expires and another worker sends them again)."""
        self._stop.set()
        self._wake.set()
        _wakeups.discard(self._wake)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.dispatch()
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("webhook delivery loop failed; trying again")
            self._side_outboxes()
            self._wake.wait(self.poll_s)

    def _side_outboxes(self) -> None:
        """CRM activities and queued SMS (rokuon.integrations.crm.outbox, .sms): one batch
        at a time on the pool, beside the webhooks."""
        with self._mu:
            if self._side_busy or self._pool is None:
                return
            self._side_busy = True
        self._pool.submit(self._run_side)

    def _run_side(self) -> None:
        from rokuon.integrations import sms
        from rokuon.integrations.crm import outbox

        try:
            outbox.deliver_due(self.rt)
            sms.deliver_queued(self.rt)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable
            log.exception("CRM/SMS delivery failed; trying again")
        finally:
            with self._mu:
                self._side_busy = False

    # ---- claiming -------------------------------------------------------------------
    def dispatch(self) -> int:
        """Claim due deliveries (the oldest per endpoint without one in flight) and hand
        them to the pool. Returns how many were started."""
        if self._pool is None:
            raise RuntimeError("the delivery worker is not started")
        with self._mu:
            busy = set(self._inflight)
        free = self.threads - len(busy)
        if free <= 0:
            return 0
        now = utcnow()
        due = (WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
               or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
        q = (select(func.min(WebhookDelivery.id), WebhookDelivery.endpoint_id).where(*due)
             .group_by(WebhookDelivery.endpoint_id))
        if busy:
            q = q.where(WebhookDelivery.endpoint_id.notin_(busy))
        with self.rt.db.session() as s:
            rows = s.execute(q).all()
        started = 0
        for delivery_id, endpoint_id in sorted(rows)[:free]:
            lease = utcnow() + timedelta(seconds=self.lease_s)
            with self.rt.db.session() as s:
                claimed = s.execute(
                    update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, *due)
                    .values(locked_until=lease)
                    .execution_options(synchronize_session=False)).rowcount
            if not claimed:
                continue  # another process took it
            with self._mu:
                self._inflight.add(endpoint_id)
            self._pool.submit(self._attempt, delivery_id, endpoint_id, lease)
            started += 1
        return started

    def drain(self, timeout: float = 60.0) -> None:
        """Deliver everything due now and wait for the attempts (``webhooks run --once``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            started = self.dispatch()
            with self._mu:
                busy = bool(self._inflight)
            if not started and not busy:
                return
            self._wake.wait(0.05)
            self._wake.clear()

    # ---- one attempt ----------------------------------------------------------------
    def _attempt(self, delivery_id: int, endpoint_id: str, lease: datetime) -> None:
        attempts, what, url = 0, f"delivery {delivery_id}", "-"
        try:
            with self.rt.db.session() as s:
                d = s.get(WebhookDelivery, delivery_id)
                ep = s.get(WebhookEndpoint, endpoint_id)
                if d is None:
                    return  # the endpoint was removed with its deliveries
                attempts = d.attempts
                what = f"delivery {d.id} ({d.event_type} {d.event_id})"
                target = None
                if ep is not None and ep.enabled:
                    url = ep.url
                    target = (ep.kind, endpoint_key(ep, self.rt.keys), d.event_id, d.payload)
            if target is None:
                outcome = Outcome(False, None, "the endpoint is disabled", permanent=True)
            else:
                kind, key, event_id, payload = target
                body, headers = request_for(kind, key, event_id, payload,
                                            public_url=self.rt.settings.public_url)
                outcome = post(url, body, headers, kind=kind, timeout=self.timeout_s,
                               allow_private=self.rt.settings.webhook_allow_private)
            self._record(delivery_id, lease, attempts, outcome, what, url)
        except Exception as exc:  # noqa: BLE001 - an attempt never kills the worker
            log.exception("webhook %s: attempt failed inside rokuon", what)
            try:
                self._record(delivery_id, lease, attempts,
                             Outcome(False, None, f"internal error: {exc}"[:300]), what, "-")
            except Exception:  # noqa: BLE001 - its lease expires and it is tried again
                log.exception("webhook %s: recording the attempt failed", what)
        finally:
            with self._mu:
                self._inflight.discard(endpoint_id)
            self._wake.set()

    def _record(self, delivery_id: int, lease: datetime, attempts: int, outcome: Outcome,
                what: str, url: str) -> None:
        n = attempts + 1
        now = utcnow()
        values: dict[str, object] = {"attempts": n, "locked_until": None,
                                     "response_code": outcome.code,
                                     "last_error": outcome.error}
        if outcome.ok:
            values.update(status="delivered", delivered_at=now)
            log.info("webhook %s delivered to %s (HTTP %s, attempt %d)", what,
                     _host(url), outcome.code, n)
        elif outcome.permanent or n >= self.max_attempts:
            values.update(status="dead")
            log.error("webhook %s to %s is dead after %d attempt(s): %s", what, _host(url),
                      n, outcome.error)
        else:
            wait = self.backoff_s[n - 1]
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=wait))
            log.warning("webhook %s to %s failed (attempt %d of %d): %s; next attempt in "
                        "%g s", what, _host(url), n, self.max_attempts, outcome.error, wait)
        with self.rt.db.session() as s:
            s.execute(update(WebhookDelivery)
                      .where(WebhookDelivery.id == delivery_id,
                             WebhookDelivery.locked_until == lease)
                      .values(**values).execution_options(synchronize_session=False))


def _host(url: str) -> str:
    """Where a delivery went, for logs (a Slack URL's path is its secret)."""
    from urllib.parse import urlsplit

    try:
        p = urlsplit(url)
        return f"{p.scheme}://{p.netloc}" if p.netloc else url
    except ValueError:
        return "?"
