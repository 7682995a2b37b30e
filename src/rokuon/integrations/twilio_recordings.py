"""Twilio recording imports: the recording status callback (``recordingStatusCallback``
of ``<Start><Recording>``/``<Dial record=…>`` or the REST API) imports each completed
recording as a call (docs/integrations.md).

* The ``X-Twilio-Signature`` must match (HMAC-SHA1 with ``twilio_auth_token`` over the
  full URL and the sorted POST parameters, Twilio's RequestValidator), and the
  ``AccountSid`` must be this installation's ``twilio_account_sid``.
* The media is downloaded with the account's credentials (HTTP Basic) from
  ``twilio_api_base_url`` + the path of ``RecordingUrl`` — never from the host the
  callback names — as WAV, both channels for a dual-channel recording.
* Metadata: ``external_id`` ``twilio:<RecordingSid>`` (a repeated callback is a
  duplicate, not a second call), ``started_at`` from ``RecordingStartTime``, and agent,
  queue, direction and customer number from the callback URL's query string (set them in
  the TwiML: ``…/recordings?agent=sato&queue=support&direction=inbound&customer=%2B81…``;
  the signature covers the query). Dual channel: channel 1 is the parent call (the
  customer on an inbound call), channel 2 the child (the agent); outbound the reverse.
"""

from __future__ import annotations

import contextlib
import re
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from rokuon.runtime import Runtime

TIMEOUT_S = 60.0
_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+)$")


class RecordingError(ValueError):
    """The callback cannot be imported; ``status`` is the HTTP answer to Twilio."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_signature(settings: Any, url: str, params: dict[str, str], signature: str) -> None:
    from twilio.request_validator import RequestValidator

    if not settings.twilio_auth_token:
        raise RecordingError("twilio_auth_token is not set: recording callbacks are refused",
                             403)
    if not RequestValidator(settings.twilio_auth_token).validate(url, params, signature):
        raise RecordingError("the X-Twilio-Signature does not match (twilio_auth_token, "
                             "public_url)", 403)


def media_url(settings: Any, params: dict[str, str]) -> str:
    path = urlsplit(params.get("RecordingUrl", "")).path.removesuffix(".json")
    m = _PATH.match(path)
    if not m:
        raise RecordingError("RecordingUrl is not a Twilio recording URL "
                             "(/2010-04-01/Accounts/AC…/Recordings/RE…)")
    if m.group(1) != params.get("AccountSid") or m.group(1) != settings.twilio_account_sid:
        raise RecordingError("the recording belongs to another Twilio account "
                             "(twilio_account_sid)", 403)
    url = settings.twilio_api_base_url.rstrip("/") + path + ".wav"
    if params.get("RecordingChannels") == "2":
        url += "?RequestedChannels=2"
    return url


def metadata(params: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    direction = query.get("direction") if query.get("direction") in ("inbound", "outbound") \
        else None
    doc: dict[str, Any] = {"external_id": f"twilio:{params['RecordingSid']}",
                           "twilio_call_sid": params.get("CallSid"),
                           "twilio_recording_source": params.get("RecordingSource")}
    for key, name in (("agent", "agent"), ("queue", "queue"),
                      ("customer_number", "customer")):
        if query.get(name):
            doc[key] = query[name][:200]
    if direction:
        doc["direction"] = direction
    started = params.get("RecordingStartTime")
    if started:
        with contextlib.suppress(TypeError, ValueError):
            doc["started_at"] = parsedate_to_datetime(started).isoformat()
    if params.get("RecordingChannels") == "2":
        doc["channels"] = ["agent", "customer"] if direction == "outbound" \
            else ["customer", "agent"]
    return doc


def import_recording(rt: Runtime, url: str, params: dict[str, str], query: dict[str, str],
                     signature: str) -> dict[str, Any]:
    """Check, download and import one callback. Returns ``{"status", "call_id"}``;
    raises RecordingError (nothing stored)."""
    import json

    from rokuon.access.principal import Principal
    from rokuon.calls.ingest import IngestError, ingest_stream
    from rokuon.calls.metadata import MetadataError, parse_metadata

    st = rt.settings
    check_signature(st, url, params, signature)
    status = params.get("RecordingStatus", "")
    if status != "completed":
        return {"status": "ignored", "recording_status": status, "call_id": None}
    if not params.get("RecordingSid"):
        raise RecordingError("the callback has no RecordingSid")
    src = media_url(st, params)
    try:
        meta = parse_metadata(json.dumps(metadata(params, query)), source="twilio callback")
    except MetadataError as exc:
        raise RecordingError(str(exc)) from exc
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False,
                          auth=(st.twilio_account_sid, st.twilio_auth_token)) as c, \
                c.stream("GET", src) as r:
            if r.status_code != 200:
                said = r.read()[:200].decode("utf-8", "replace")
                raise RecordingError(f"Twilio answered HTTP {r.status_code} for the "
                                     f"recording: {said}", 502)
            res = ingest_stream(rt, r.iter_bytes(), name=f"{params['RecordingSid']}.wav",
                                meta=meta, source="twilio",
                                actor=Principal(name="twilio", role="admin",
                                                source="twilio"))
    except httpx.HTTPError as exc:
        raise RecordingError(f"the recording could not be downloaded: "
                             f"{type(exc).__name__}: {exc}"[:300], 502) from None
    except IngestError as exc:
        raise RecordingError(str(exc), 422) from exc
    return {"status": res.status, "call_id": res.call_id or res.duplicate_of}
