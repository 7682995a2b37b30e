"""Scorecards over HTTP and in the browser. Thin: parse, call rokuon.scorecards, answer.

API (JSON; a browser session sends X-CSRF-Token):
- ``GET  /api/scorecards`` → ``{"scorecards": [{name, title, version, …}]}``
- ``GET  /api/scorecards/{name}[?version=N]`` → the card, its ``history`` and ``runs``
- ``PUT  /api/scorecards/{name}`` ``{"title", "pass_score", "criteria", "base_version"?,
  "note"?}`` → the new version; 422 ``{"error", "problems": [...]}``, nothing saved
- ``POST /api/scorecards/{name}/rescore`` ``{"since"?, "until"?, "version"?}`` → 202 the run
- ``GET  /api/rescore/{run_id}`` → the run and its deltas (the calls in the caller's scope)
Pages: ``/scorecards`` (cards and runs), ``/scorecards/{name}`` (editor, versions,
re-score form), ``/scorecards/runs/{id}`` (deltas; ``.csv`` to download them).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.runtime import Runtime
from rokuon.scorecards import form, rescore, validate, versions
from rokuon.scorecards.validate import ScorecardError
from rokuon.web.deps import Auth, api_auth, check_csrf, db_session, require_action, runtime, ui_auth

router = APIRouter()
JSON_BODY = Body(None)


def card_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "scorecards")
    return auth


def _cfg(rt: Runtime) -> dict[str, Any]:
    return rt.analysis_config


def _problems(s: Session, exc: ScorecardError) -> JSONResponse:
    s.rollback()
    return JSONResponse({"error": str(exc), "problems": exc.problems}, status_code=422)


def _missing(s: Session, exc: LookupError) -> HTTPException:
    s.rollback()
    return HTTPException(status_code=404, detail=str(exc))


def _notify(request: Request) -> None:
    worker = getattr(request.app.state, "rescore", None)
    if worker is not None:
        worker.notify()


@router.get("/api/scorecards")
def list_api(auth: Auth = Depends(card_auth), s: Session = Depends(db_session),
             rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return {"scorecards": versions.listing(s, _cfg(rt))}


@router.get("/api/scorecards/{name}", response_model=None)
def get_api(name: str, version: int | None = None, auth: Auth = Depends(card_auth),
            s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
            ) -> dict[str, Any]:
    try:
        card = versions.get(s, _cfg(rt), name, version)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    return {"name": name, **card, "history": versions.history(s, _cfg(rt), name),
            "runs": rescore.runs(s, auth.principal, name)}


@router.put("/api/scorecards/{name}", response_model=None)
def put_api(request: Request, name: str, body: Any = JSON_BODY,
            auth: Auth = Depends(card_auth), s: Session = Depends(db_session),
            rt: Runtime = Depends(runtime)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    if not isinstance(body, dict):
        return _problems(s, ScorecardError(["body: a JSON object is expected"]))
    base = body.get("base_version")
    if base is not None and not isinstance(base, int):
        return _problems(s, ScorecardError(["base_version: an integer"]))
    try:
        return {"name": name, **versions.save(s, auth.principal, _cfg(rt), name, body,
                                              base_version=base, note=body.get("note"))}
    except ScorecardError as exc:
        return _problems(s, exc)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc


@router.post("/api/scorecards/{name}/rescore", status_code=202, response_model=None)
def rescore_api(request: Request, name: str, body: Any = JSON_BODY,
                auth: Auth = Depends(card_auth), s: Session = Depends(db_session),
                rt: Runtime = Depends(runtime)) -> Any:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    b = body if isinstance(body, dict) else {}
    if body is not None and not isinstance(body, dict):
        return _problems(s, ScorecardError(["body: a JSON object is expected"]))
    version = b.get("version")
    if version is not None and not isinstance(version, int):
        return _problems(s, ScorecardError(["version: an integer"]))
    try:
        run = rescore.start(s, auth.principal, _cfg(rt), name, version=version,
                            since=b.get("since"), until=b.get("until"),
                            tz=rt.settings.timezone)
    except ScorecardError as exc:
        return _problems(s, exc)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    s.commit()
    _notify(request)
    return rescore.summary(s, auth.principal, run.id)


@router.get("/api/rescore/{run_id}")
def run_api(run_id: int, auth: Auth = Depends(card_auth), s: Session = Depends(db_session)
            ) -> dict[str, Any]:
    try:
        return rescore.summary(s, auth.principal, run_id)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc


# ---- pages ---------------------------------------------------------------------------

def _page_auth(auth: Auth) -> None:
    require_action(auth, "scorecards")


@router.get("/scorecards", response_class=HTMLResponse)
def cards_page(request: Request, auth: Auth = Depends(ui_auth),
               s: Session = Depends(db_session), rt: Runtime = Depends(runtime)) -> Response:
    from rokuon.web.ui import render

    _page_auth(auth)
    return render(request, "scorecards.html", auth=auth,
                  cards=versions.listing(s, _cfg(rt)), runs=rescore.runs(s, auth.principal))


def _editor(request: Request, auth: Auth, s: Session, rt: Runtime, name: str, *,
            card: dict[str, Any] | None = None, rows: list[dict[str, str]] | None = None,
            problems: list[str] | None = None, status_code: int = 200) -> Response:
    from rokuon.web.ui import render

    try:
        current = versions.get(s, _cfg(rt), name)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    shown = card or current
    return render(request, "scorecard.html", status_code=status_code, auth=auth, card_name=name,
                  card=shown, current=current, rows=rows or form.to_rows(shown),
                  history=versions.history(s, _cfg(rt), name),
                  runs=rescore.runs(s, auth.principal, name), problems=problems or [],
                  types=validate.TYPES, metrics=validate.METRICS,
                  lists=sorted(versions.keyword_lists(_cfg(rt))),
                  speakers=validate.SPEAKERS, saved=request.query_params.get("saved"))


@router.get("/scorecards/{name}", response_class=HTMLResponse)
def card_page(request: Request, name: str, version: int | None = None,
              auth: Auth = Depends(ui_auth), s: Session = Depends(db_session),
              rt: Runtime = Depends(runtime)) -> Response:
    _page_auth(auth)
    card = None
    if version is not None:
        try:
            card = versions.get(s, _cfg(rt), name, version)
        except versions.UnknownScorecard as exc:
            raise _missing(s, exc) from exc
    return _editor(request, auth, s, rt, name, card=card)


@router.post("/scorecards/{name}", response_class=HTMLResponse)
async def card_save(request: Request, name: str, auth: Auth = Depends(ui_auth),
                    s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                    ) -> Response:
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(auth, fields.get("csrf") or request.headers.get("x-csrf-token"))
    _page_auth(auth)
    raw, sent = form.read(fields)
    try:
        base = int(fields.get("base_version", ""))
    except ValueError:
        base = None
    try:
        saved = versions.save(s, auth.principal, _cfg(rt), name, raw, base_version=base,
                              note=fields.get("note") or None)
    except ScorecardError as exc:
        s.rollback()
        rows = sent + form.ROWS.blank()  # the form as the user sent it, to correct
        shown = {"title": fields.get("title", ""), "pass_score": fields.get("pass_score", ""),
                 "version": base}
        return _editor(request, auth, s, rt, name, card=shown, rows=rows,
                       problems=exc.problems, status_code=422)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    return RedirectResponse(f"/scorecards/{name}?saved={saved['version']}", status_code=303)


@router.post("/scorecards/{name}/rescore")
def rescore_form(request: Request, name: str, csrf: str = Form(""), since: str = Form(""),
                 until: str = Form(""), auth: Auth = Depends(ui_auth),
                 s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                 ) -> Response:
    check_csrf(auth, csrf or request.headers.get("x-csrf-token"))
    _page_auth(auth)
    try:
        run = rescore.start(s, auth.principal, _cfg(rt), name, since=since, until=until,
                            tz=rt.settings.timezone)
    except ScorecardError as exc:
        s.rollback()
        return _editor(request, auth, s, rt, name, problems=exc.problems, status_code=422)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    s.commit()
    _notify(request)
    return RedirectResponse(f"/scorecards/runs/{run.id}", status_code=303)


@router.get("/scorecards/runs/{run_id}.csv")  # before the page route: "5.csv" matches {run_id}
def run_csv(run_id: int, auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)
            ) -> Response:
    _page_auth(auth)
    try:
        summary = rescore.summary(s, auth.principal, run_id, limit=10**9)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    buf = io.StringIO()
    w = csv.writer(buf)
    cols = ["call_id", "old_score", "new_score", "delta", "old_passed", "new_passed",
            "old_version"]
    w.writerow(cols)
    for d in summary["deltas"]:
        w.writerow(["" if d[c] is None else d[c] for c in cols])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="rescore-{run_id}.csv"'})


@router.get("/scorecards/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, auth: Auth = Depends(ui_auth),
             s: Session = Depends(db_session)) -> Response:
    from rokuon.web.ui import render

    _page_auth(auth)
    try:
        summary = rescore.summary(s, auth.principal, run_id)
    except versions.UnknownScorecard as exc:
        raise _missing(s, exc) from exc
    return render(request, "rescore.html", auth=auth, r=summary,
                  final=summary["run"]["status"] in rescore.FINAL)
