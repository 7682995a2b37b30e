"""Call export over HTTP. Thin: parse, call rokuon.calls.export, stream.

- ``GET /api/export/calls?format=csv|jsonl&since=YYYY-MM-DD&until=YYYY-MM-DD`` → the
  calls in the caller's scope, one row each, streamed (CSV: UTF-8 with BOM); 422 on a
  bad format or date, naming it. The call list page links here (its filter's period).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from rokuon.calls import export
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, db_session, read_auth, runtime

router = APIRouter()
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def _day(name: str, v: str | None) -> date | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError as exc:
        raise HTTPException(status_code=422,
                            detail=f"{name}: '{v}' is not a date (YYYY-MM-DD)") from exc


@router.get("/api/export/calls", response_model=None)
def export_calls(format: str = "csv", since: str | None = None, until: str | None = None,
                 auth: Auth = Depends(read_auth), s: Session = Depends(db_session),
                 rt: Runtime = Depends(runtime)) -> StreamingResponse:
    try:
        f = export.check(format, _day("since", since), _day("until", until))
    except export.ExportError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    export.audit(s, auth.principal, f, format)
    s.commit()  # the audit row, before the first byte
    principal, tz = auth.principal, rt.settings.timezone

    def body() -> Iterator[bytes]:
        with rt.db.session() as own:
            for chunk in export.encode(export.rows(own, principal, f, tz), format):
                yield chunk.encode("utf-8")

    name = f"calls-{f.since or 'all'}-{f.until or 'now'}.{format}"
    return StreamingResponse(body(), media_type=MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})
