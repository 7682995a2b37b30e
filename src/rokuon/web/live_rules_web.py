"""The real-time rules over HTTP and in the browser (admins; rokuon.live.rule_versions
does the work). ``GET/PUT /api/live-rules`` (``{"rules": [...], "base_version"?,
"note"?}`` → the new version; 422 ``{"error", "problems"}`` and nothing saved) and the
page ``/live/rules`` (one row per rule, blank rows to add, a tick to switch one off)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.live import rule_versions
from rokuon.live.rule_versions import LiveRulesError
from rokuon.live.rules import CONDITIONS, KINDS
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_action, runtime, ui_auth

router = APIRouter()
JSON_BODY = Body(None)
ROW_FIELDS = ("name", "kind", "when", "threshold", "list", "speaker", "phrases", "within_s",
              "over_s")
MAX_ROWS = rule_versions.MAX_RULES
BLANK_ROWS = 2


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


def _rows(rules: list[dict[str, Any]], blank: int = BLANK_ROWS) -> list[dict[str, str]]:
    out = []
    for r in rules:
        row = {f: "" for f in ROW_FIELDS}
        for f in ROW_FIELDS:
            v = r.get(f)
            if v is None:
                continue
            row[f] = "\n".join(map(str, v)) if f == "phrases" else (
                str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        row["enabled"] = "" if r.get("enabled", True) is False else "1"
        out.append(row)
    return out + [{**{f: "" for f in ROW_FIELDS}, "enabled": "1"} for _ in range(blank)]


def _from_form(fields: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The rules the form describes, and its rows as sent (to show again on an error)."""
    rules, rows = [], []
    for n in range(MAX_ROWS):
        row = {f: str(fields.get(f"r{n}_{f}") or "").strip() for f in ROW_FIELDS}
        row["enabled"] = "1" if fields.get(f"r{n}_enabled") else ""
        row["remove"] = "1" if fields.get(f"r{n}_remove") else ""
        if not (row["name"] or row["phrases"]):
            continue
        rows.append(row)
        if row["remove"]:
            continue
        rule: dict[str, Any] = {k: v for k, v in row.items()
                                if v != "" and k not in ("remove", "enabled")}
        rule["enabled"] = bool(row["enabled"])
        if "phrases" in rule:
            rule["phrases"] = [p for p in rule["phrases"].splitlines() if p.strip()]
        rules.append(rule)
    return rules, rows


def _page(request: Request, auth: Auth, s: Session, rt: Runtime, *,
          rows: list[dict[str, str]] | None = None, problems: list[str] | None = None,
          status_code: int = 200) -> Response:
    from rokuon.web.ui import render

    cur = rule_versions.current(s, rt.analysis_config)
    return render(request, "live_rules.html", status_code=status_code, auth=auth, cur=cur,
                  rows=rows if rows is not None else _rows(cur["rules"]),
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
    rules, rows = _from_form(fields)
    try:
        base = int(fields.get("base_version", ""))
    except ValueError:
        base = None
    try:
        saved = rule_versions.save(s, auth.principal, rt.analysis_config, rules,
                                   base_version=base, note=fields.get("note") or None)
    except LiveRulesError as exc:
        s.rollback()
        return _page(request, auth, s, rt, rows=rows + _rows([]), problems=exc.problems,
                     status_code=422)
    s.commit()
    _applied(request)
    return RedirectResponse(f"/live/rules?saved={saved['version']}", status_code=303)
