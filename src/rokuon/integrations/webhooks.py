"""Outbound webhooks: endpoints as data, and ``emit`` — the one way any code announces an
event to the outside (docs/integrations.md).

``emit`` writes one outbox row (``WebhookDelivery``) per matching endpoint in the
caller's transaction: an event is sent if and only if the thing that caused it was
committed. The delivery worker (rokuon.integrations.delivery) sends the rows, signed as
the Standard Webhooks spec says, or as Slack Block Kit messages.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.store.keys import KeyProvider, WrappedKey
from rokuon.store.models import Call, WebhookDelivery, WebhookEndpoint, utcnow

EVENT_TYPES = ("alert.raised", "call.analyzed", "call.started", "call.ended")
TEST_EVENT = "webhook.test"  # what `rokuon webhooks test` sends; not subscribable
KINDS = ("standard", "slack")
STATUSES = ("pending", "delivered", "dead")
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 16, 64
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class WebhookError(ValueError):
    """Bad webhook input (the message says what and how to fix it)."""


class UnsafeURLError(WebhookError):
    """The URL is not http(s) or points to an address the SSRF guard refuses."""


# ---- input checks ------------------------------------------------------------------------

def parse_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (Standard Webhooks)."""
    secret = (secret or "").strip()
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookError("the secret must start with 'whsec_' followed by base64 "
                           "(e.g. made by 'rokuon webhooks add' without --secret)")
    body = secret[len(SECRET_PREFIX):]
    if not _B64.match(body):
        raise WebhookError("the secret after 'whsec_' is not base64")
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("the secret after 'whsec_' is not base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise WebhookError(f"the secret must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} "
                           f"bytes (Standard Webhooks recommends 24-64); got {len(key)}")
    return key


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_events(events: list[str] | tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for e in events:
        for name in (p.strip() for p in str(e).split(",")):
            if not name:
                continue
            if name not in EVENT_TYPES:
                raise WebhookError(f"unknown event {name!r}; known events: "
                                   f"{', '.join(EVENT_TYPES)}")
            if name not in out:
                out.append(name)
    if not out:
        raise WebhookError(f"name at least one event ({', '.join(EVENT_TYPES)})")
    return out


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool, must_resolve: bool = True) -> str:
    """An http(s) URL whose host resolves only to public addresses (unless
    ``allow_private``): the SSRF guard, applied when an endpoint is added and again
    before every delivery (an address may change). ``must_resolve=False`` (adding an
    endpoint) accepts a name that does not resolve yet: it is checked at delivery."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"the URL must start with https:// or http://; got {url[:80]!r}")
    host = parts.hostname
    if not host:
        raise UnsafeURLError("the URL has no host")
    if len(url) > 2000:
        raise UnsafeURLError("the URL is longer than 2000 characters")
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        if not must_resolve and host.lower().rstrip(".") not in ("localhost",) \
                and not host.lower().endswith((".localhost", ".local", ".internal")):
            return url
        raise UnsafeURLError(f"cannot resolve the host {host!r} ({exc})") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _refused(ip):
            raise UnsafeURLError(
                f"the host {host!r} resolves to {ip}, a private, loopback or link-local "
                "address: refused (set webhook_allow_private = true to allow a receiver "
                "on this host or network)")
    return url


# ---- endpoints ---------------------------------------------------------------------------

def add_endpoint(session: Session, keys: KeyProvider, url: str, events: list[str], *,
                 secret: str | None, kind: str = "standard", allow_private: bool = False,
                 created_by: str | None = None) -> WebhookEndpoint:
    """Validate and store an endpoint (nothing is stored when anything is wrong)."""
    if kind not in KINDS:
        raise WebhookError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    names = check_events(events)
    key = None
    if kind == "slack":
        if secret:
            raise WebhookError("a Slack incoming-webhook URL takes no --secret (the URL "
                               "itself is the credential)")
    else:
        if not secret:
            raise WebhookError("a standard endpoint needs a whsec_ secret")
        key = parse_secret(secret)
    url = check_url(url, allow_private=allow_private, must_resolve=False)
    wrapped = seal_secret(keys, key) if key is not None else None
    ep = WebhookEndpoint(url=url, kind=kind, events=names, wrapped_secret=wrapped,
                         enabled=True, created_by=created_by)
    session.add(ep)
    session.flush()
    return ep


_SECRET_AAD = b"rokuon webhook secret"


def seal_secret(keys: KeyProvider, key: bytes) -> str:
    """The signing key encrypted at rest: AES-GCM under a fresh data key that the
    installation's key provider wraps (as a recording's; the KEK never sees the secret)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dek, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
    sealed = AESGCM(dek).encrypt(nonce, key, _SECRET_AAD)
    return json.dumps({"v": 1, "k": keys.wrap(dek).to_json(),
                       "n": base64.b64encode(nonce).decode("ascii"),
                       "c": base64.b64encode(sealed).decode("ascii")},
                      separators=(",", ":"))


def open_secret(keys: KeyProvider, raw: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    doc = json.loads(raw)
    dek = keys.unwrap(WrappedKey.from_json(doc["k"]))
    return AESGCM(dek).decrypt(base64.b64decode(doc["n"]), base64.b64decode(doc["c"]),
                               _SECRET_AAD)


def endpoint_key(ep: WebhookEndpoint, keys: KeyProvider) -> bytes | None:
    if not ep.wrapped_secret:
        return None
    return open_secret(keys, ep.wrapped_secret)


def redacted_url(url: str) -> str:
    """A URL for listings: a Slack webhook URL's path is its secret."""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith("hooks.slack.com"):
        return f"{parts.scheme}://{parts.netloc}/services/…"
    return url


def endpoint_dict(ep: WebhookEndpoint) -> dict[str, Any]:
    return {"webhook_id": ep.id, "url": redacted_url(ep.url), "kind": ep.kind,
            "events": list(ep.events or []), "enabled": ep.enabled,
            "created_by": ep.created_by, "created_at": ep.created_at.isoformat()}


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at,
                                                                 WebhookEndpoint.id)))


def remove_endpoint(session: Session, endpoint_id: str) -> bool:
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        return False
    for d in session.scalars(select(WebhookDelivery)
                             .where(WebhookDelivery.endpoint_id == endpoint_id)):
        session.delete(d)
    session.delete(ep)
    session.flush()
    return True


# ---- events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    id: str
    type: str
    body: str  # the JSON document sent (and signed), exactly


def make_event(event_type: str, data: dict[str, Any]) -> Event:
    ts = utcnow().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = json.dumps({"type": event_type, "timestamp": ts, "data": data},
                      ensure_ascii=False, separators=(",", ":"), default=str)
    return Event(id=f"msg_{uuid.uuid4().hex}", type=event_type, body=body)


# delivery workers of this process wait on these; a commit that emitted wakes them
_wakeups: set[threading.Event] = set()
_PENDING_WAKE = "rokuon.webhooks.wake"


def _wake_all(*_: Any) -> None:
    for ev in list(_wakeups):
        ev.set()


def _wake_after_commit(session: Session) -> None:
    if session.info.get(_PENDING_WAKE):
        return
    session.info[_PENDING_WAKE] = True

    def fire(s: Session) -> None:
        s.info.pop(_PENDING_WAKE, None)
        _wake_all()

    def forget(s: Session, *_: Any) -> None:
        s.info.pop(_PENDING_WAKE, None)

    sa_event.listen(session, "after_commit", fire, once=True)
    sa_event.listen(session, "after_soft_rollback", forget, once=True)


def emit(session: Session, event_type: str, data: dict[str, Any], *,
         call_id: str | None = None) -> list[WebhookDelivery]:
    """Enqueue an event for every enabled endpoint that subscribed to its type, in the
    caller's transaction. Returns the outbox rows (none when nobody listens)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    endpoints = [ep for ep in session.scalars(select(WebhookEndpoint)
                                              .where(WebhookEndpoint.enabled.is_(True)))
                 if event_type in (ep.events or [])]
    if not endpoints:
        return []
    ev = make_event(event_type, data)
    cid = call_id if call_id is not None else data.get("call_id")
    now = utcnow()
    rows = [WebhookDelivery(endpoint_id=ep.id, event_id=ev.id, event_type=ev.type,
                            call_id=str(cid)[:32] if cid else None, payload=ev.body,
                            status="pending", attempts=0, next_attempt_at=now,
                            created_at=now)
            for ep in endpoints]
    session.add_all(rows)
    session.flush()
    _wake_after_commit(session)
    return rows


def emit_call_analyzed(session: Session, call: Call | None,
                       results: dict[str, tuple[int, Any]]) -> list[WebhookDelivery]:
    """``call.analyzed`` from the analysis being stored (pipeline analyze step). A call
    whose use was stopped (APPI art. 35) is kept out of outbound integrations; a
    quarantined one (PCI) sends no summary text."""
    if call is None or call.use_stopped_at is not None:
        return []
    complaint = results.get("complaint", (0, None))[1]
    summary = results.get("summary", (0, None))[1]
    if isinstance(summary, dict):
        summary = summary.get("text") or summary.get("summary")
    if not isinstance(summary, str) or not summary.strip() or call.quarantined_at:
        summary = None
    data = {"call_id": call.id, "qa_score": call.qa_score,
            "duration_s": round(call.duration_s or 0.0, 3),
            "complaint": bool(complaint.get("detected")) if isinstance(complaint, dict)
            else None,
            "summary": summary}
    from rokuon.integrations.crm.hooks import after_analysis

    after_analysis(session, call, results)  # CRM activities, the SMS rule (same outbox tx)
    return emit(session, "call.analyzed", data, call_id=call.id)


# ---- the delivery log --------------------------------------------------------------------

def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {"delivery_id": d.id, "webhook_id": d.endpoint_id, "event_id": d.event_id,
            "type": d.event_type, "call_id": d.call_id, "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending"
            else None,
            "last_error": d.last_error, "response_code": d.response_code,
            "created_at": d.created_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None}


def list_deliveries(session: Session, *, status: str | None = None,
                    endpoint_id: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
    if status is not None and status not in STATUSES:
        raise WebhookError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    q = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(max(1, limit))
    if status:
        q = q.where(WebhookDelivery.status == status)
    if endpoint_id:
        q = q.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(session.scalars(q))


def retry_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    """Send a dead (or pending) delivery again, with a fresh series of attempts."""
    d = session.get(WebhookDelivery, delivery_id)
    if d is None:
        raise WebhookError(f"no delivery {delivery_id}")
    if d.status == "delivered":
        raise WebhookError(f"delivery {delivery_id} was already delivered")
    if d.status == "dead":
        d.status, d.attempts, d.locked_until = "pending", 0, None
    d.next_attempt_at = utcnow()  # a pending one being sent right now keeps its lease
    session.flush()
    _wake_after_commit(session)
    return d
