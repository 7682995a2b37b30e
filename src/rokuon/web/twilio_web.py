"""Twilio's recording status callback over HTTP. Thin: parse, call
rokuon.integrations.twilio_recordings, answer.

- ``POST /api/twilio/recordings[?agent=&queue=&direction=&customer=]``: the
  ``X-Twilio-Signature`` is the credential (403 when it does not match); a ``completed``
  recording is downloaded and imported → 200 ``{"status": "stored"|"duplicate"|
  "ignored", "call_id"}``; 4xx/502 ``{"error"}`` naming what was wrong
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rokuon.integrations import twilio_recordings as recordings
from rokuon.runtime import Runtime
from rokuon.web.deps import runtime

router = APIRouter()


def _url(request: Request, rt: Runtime) -> str:
    """The URL Twilio signed: behind a proxy, ``public_url`` gives scheme and host."""
    if not rt.settings.public_url:
        return str(request.url)
    url = rt.settings.public_url.rstrip("/") + request.url.path
    return url + ("?" + request.url.query if request.url.query else "")


@router.post("/api/twilio/recordings")
async def recording_callback(request: Request, rt: Runtime = Depends(runtime)
                             ) -> JSONResponse:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    query = dict(request.query_params)
    try:
        res = await run_in_threadpool(recordings.import_recording, rt, _url(request, rt),
                                      params, query,
                                      request.headers.get("x-twilio-signature", ""))
    except recordings.RecordingError as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    return JSONResponse(res)
