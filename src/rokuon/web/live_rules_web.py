"""The real-time rules over HTTP and in the browser (admins; rokuon.live.rule_versions
does the work). ``GET/PUT /api/live-rules`` (``{"rules": [...], "base_version"?,
"note"?}`` → the new version; 422 ``{"error", "problems"}`` and nothing saved) and the
page ``/live/rules`` (one row per rule, blank rows to add, a tick to switch one off)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.live import rule_versions
from rokuon.live.rule_versions import LiveRulesError
from rokuon.live.rules import CONDITIONS, KINDS
from rokuon.row_form import RowForm
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_action, runtime, ui_auth

router = APIRouter()
JSON_BODY = Body(None)
ROWS = RowForm("r", ("name", "kind", "when", "threshold", "list", "speaker", "phrases",
                      "within_s", "over_s"), keys=("name", "phrases"), flags=("enabled",),
               max_rows=rule_versions.MAX_RULES, blank_rows=2)


def rules_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "admin")
    return auth


def _applied(request: Request) -> None:
    hub = getattr(request.app.state, "live_hub", None)
    if hub is not None:
        hub.rules.refresh()


def _problems(s: Session, exc: LiveRulesError) -> JSONResponse:
    s.rollback()
    return JSONResponse({"error": str(exc), "problems": exc.problems}, status_code=422)


@router.get("/api/live-rules")
def get_api(auth: Auth = Depends(rules_auth), s: Session = Depends(db_session),
            rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return {**rule_versions.current(s, rt.analysis_config),
            "history": rule_versions.history(s)}


@router.put("/api/live-rules", response_model=None)
def put_api(request: Request, body: Any = JSON_BODY, auth: Auth = Depends(rules_auth),
            s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    if not isinstance(body, dict):
        return _problems(s, LiveRulesError(["body: a JSON object with \"rules\""]))
    base = body.get("base_version")
    if base is not None and not isinstance(base, int):
        return _problems(s, LiveRulesError(["base_version: an integer"]))
    try:
        saved = rule_versions.save(s, auth.principal, rt.analysis_config, body.get("rules"),
                                   base_version=base, note=body.get("note"))
    except LiveRulesError as exc:
        return _problems(s, exc)
    s.commit()
    _applied(request)
    return saved


def _page(request: Request, auth: Auth, s: Session, rt: Runtime, *,
          rows: list[dict[str, str]] | None = None, problems: list[str] | None = None,
          status_code: int = 200) -> Response:
    from rokuon.web.ui import render

    cur = rule_versions.current(s, rt.analysis_config)
    return render(request, "live_rules.html", status_code=status_code, auth=auth, cur=cur,
                  rows=rows if rows is not None else ROWS.rows(cur["rules"]),
                  history=rule_versions.history(s), problems=problems or [],
                  conditions=CONDITIONS, kinds=KINDS, speakers=rule_versions.SPEAKERS,
                  lists=sorted(str(k) for k in (rt.analysis_config.get("keywords") or {})),
                  saved=request.query_params.get("saved"))


@router.get("/live/rules", response_class=HTMLResponse)
def rules_page(request: Request, auth: Auth = Depends(ui_auth),
               s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    require_action(auth, "admin")
    return _page(request, auth, s, rt)


@router.post("/live/rules", response_class=HTMLResponse)
async def rules_save(request: Request, auth: Auth = Depends(ui_auth),
                     s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                     ) -> Response:
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(auth, fields.get("csrf"))
    require_action(auth, "admin")
    rules, rows = ROWS.read(fields)
    try:
        base = int(fields.get("base_version", ""))
    except ValueError:
        base = None
    try:
        saved = rule_versions.save(s, auth.principal, rt.analysis_config, rules,
                                   base_version=base, note=fields.get("note") or None)
    except LiveRulesError as exc:
        s.rollback()
        return _page(request, auth, s, rt, rows=rows + ROWS.blank(), problems=exc.problems,
                     status_code=422)
    s.commit()
    _applied(request)
    return RedirectResponse(f"/live/rules?saved={saved['version']}", status_code=303)
