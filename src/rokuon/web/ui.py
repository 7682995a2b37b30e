"""Server-rendered pages: call list + search, call page, audit log, checklist (the
sign-in pages are in web.signin)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.door import NotFound
from rokuon.calls.service import CallFilter, list_calls, search, show_call
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, db_session, require_action, runtime, search_text, ui_auth
from rokuon.web.highlight import transcript_pieces
from rokuon.web.i18n import pick_lang, translator

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    lang = pick_lang(request)
    resp = templates.TemplateResponse(request, name, {"t": translator(lang), "lang": lang,
                                                      **ctx}, status_code=status_code)
    if request.query_params.get("lang") == lang:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return resp


def _parse_date(v: str | None) -> date | None:
    try:
        return date.fromisoformat(v) if v else None
    except ValueError:
        return None


@router.get("/", response_class=HTMLResponse)
def call_list(request: Request, q: str = "", since: str = "", until: str = "", agent: str = "",
              direction: str = "", auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    f = CallFilter(since=_parse_date(since), until=_parse_date(until), agent=agent or None,
                   direction=direction if direction in ("inbound", "outbound") else None)
    tz = rt.settings.timezone
    hits = search(s, auth.principal, search_text(q), f, tz) if q.strip() else None
    calls = list_calls(s, auth.principal, f, tz)
    return render(request, "calls.html", auth=auth, calls=calls, hits=hits, q=q,
                  since=since, until=until, agent=agent, direction=direction)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_page(request: Request, call_id: str, auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    require_action(auth, "read")
    try:
        doc = show_call(s, auth.principal, call_id, rt.settings.timezone)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    from rokuon.access.permissions import allowed

    pieces = transcript_pieces(doc["segments"], doc.get("analysis"))
    return render(request, "call.html", auth=auth, call=doc, pieces=pieces,
                  can_coach=allowed(auth.principal, "coach"))


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness only: no version, no internals."""
    return {"status": "ok"}


AUDIT_PAGE = 100


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, actor: str = "", action: str = "", call: str = "",
               before: int | None = None, auth: Auth = Depends(ui_auth),
               s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    """The audit log, newest first, a page at a time (keyset on the entry id), times in
    the installation's time zone."""
    from zoneinfo import ZoneInfo

    require_action(auth, "audit")
    rows = audit.query(s, actor=actor or None, action=action or None, object_id=call or None,
                       limit=AUDIT_PAGE + 1, before=before)
    older = rows[AUDIT_PAGE].id + 1 if len(rows) > AUDIT_PAGE else None
    rows = rows[:AUDIT_PAGE]
    tz = ZoneInfo(rt.settings.timezone)
    entries = []
    for e in rows:
        row = audit.as_row(e)
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=ZoneInfo("UTC"))
        row["local_at"] = at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        entries.append(row)
    audit.record(s, auth.principal, "audit.query",
                 detail={"rows": len(entries), "before": before})
    return render(request, "audit.html", auth=auth, entries=entries, actor=actor,
                  action=action, call=call, before=before, older=older,
                  tz=rt.settings.timezone)


@router.get("/compliance/report", response_class=HTMLResponse)
def checklist_page(request: Request, format: str = "html", auth: Auth = Depends(ui_auth),
                   rt: Runtime = Depends(runtime)) -> Response:
    """The security checklist report (HTML, or ?format=json / pdf)."""
    from rokuon.compliance import checklist

    require_action(auth, "audit")
    try:
        rep = checklist.build(rt, auth.principal)
    except checklist.ChecklistError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    if format == "json":
        return JSONResponse(rep)
    if format == "pdf":
        return Response(checklist.to_pdf(rep), media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="checklist.pdf"'})
    return HTMLResponse(checklist.to_html(rep, pick_lang(request), "/static/style.css"))


@router.get("/audit.csv")
def audit_csv(actor: str = "", action: str = "", call: str = "",
              auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    require_action(auth, "audit")
    rows = audit.query(s, actor=actor or None, action=action or None, object_id=call or None,
                       limit=100_000)
    audit.record(s, auth.principal, "audit.export", detail={"rows": len(rows)})
    return Response(audit.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                             "Cache-Control": "no-store"})
