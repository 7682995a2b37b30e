"""Server-rendered pages: call list + search, call page, audit log, checklist (the
sign-in pages are in web.signin)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from rokuon.access import audit
from rokuon.access.door import NotFound
from rokuon.calls import listing, views
from rokuon.calls.search_cursor import CursorError
from rokuon.calls.service import search_page, show_call
from rokuon.runtime import Runtime
from rokuon.web.deps import (
    Auth,
    check_csrf,
    db_session,
    require_action,
    runtime,
    search_text,
    ui_auth,
)
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
def call_list(request: Request, q: str = "", auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    """The call list: filters, flags, sort, pages of 50, saved views; search above it."""
    params = request.query_params
    tz = rt.settings.timezone
    error = None
    try:
        f, page_no = listing.from_query(params)
    except listing.ListError as exc:
        error, f, page_no = str(exc), listing.CallFilter(limit=listing.PAGE_SIZE), 1
    found = None
    if q.strip():
        try:
            found = search_page(s, auth.principal, search_text(q), f, tz,
                                cursor=params.get("scursor") or None)
        except CursorError as exc:
            error = str(exc)
    hits = found["hits"] if found else ([] if q.strip() else None)
    result = listing.page(s, auth.principal, f, tz)
    pages = max(1, -(-(result["total"] or 0) // listing.PAGE_SIZE))
    search_qs = f"&q={quote(q)}" if q.strip() else ""
    base = listing.to_query(params) + search_qs  # the pages' links keep filter and sort
    unsorted = {k: v for k, v in params.items() if k not in ("sort", "order")}
    sort_base = listing.to_query(unsorted) + search_qs  # the column headers' links
    return render(request, "calls.html", auth=auth, calls=result["calls"], hits=hits, q=q,
                  f=params, error=error, total=result["total"], more=result["more"],
                  page=page_no, pages=pages,
                  base=base, sort_base=sort_base, flags=listing.FLAGS,
                  views=views.mine(s, auth.principal),
                  sort=f.sort, desc=f.descending, found=found,
                  scursor=bool(params.get("scursor")))


@router.post("/views")
def save_view(request: Request, name: str = Form(""), query: str = Form(""),
              csrf: str = Form(""), auth: Auth = Depends(ui_auth),
              s: Session = Depends(db_session)) -> Response:
    """Save the list's current filter under a name (the user's own; audited)."""
    require_action(auth, "read")
    check_csrf(auth, csrf)
    try:
        view = views.save(s, auth.principal, name, query)
    except listing.ListError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return RedirectResponse(f"/?{view.query}", status_code=303)


@router.post("/views/{view_id}/delete")
def delete_view(view_id: int, csrf: str = Form(""), auth: Auth = Depends(ui_auth),
                s: Session = Depends(db_session)) -> Response:
    require_action(auth, "read")
    check_csrf(auth, csrf)
    if not views.delete(s, auth.principal, view_id):
        raise HTTPException(status_code=404, detail=f"no saved view {view_id} of yours")
    return RedirectResponse("/", status_code=303)


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
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(rt.settings.timezone)

    def local_time(iso: str) -> str:  # the installation's time zone, to the minute
        at = datetime.fromisoformat(iso)
        at = at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return render(request, "checklist.html", auth=auth, rep=rep, local_time=local_time)


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
