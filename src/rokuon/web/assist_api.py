"""FAQ assist over HTTP and the /faq admin page. Thin: parse, call rokuon.assist, return.

API (JSON; a browser session sends X-CSRF-Token; an API token needs ``calls:read`` to
read and ``calls:write`` to change):
- ``GET /api/faq`` → ``{"entries": […]}`` — ``faq_read``
- ``POST /api/faq`` ``{"question", "answer", "tags"?, "language"?, "active"?}`` → 201 the
  entry; ``PUT /api/faq/{id}`` (the fields to change); ``DELETE /api/faq/{id}`` —
  ``faq_edit``, audited
- ``POST /api/faq/import`` (multipart ``file``: .csv or .md; ``replace=true`` deletes the
  entries not in it) → ``{"added", "updated", "removed", "entries"}`` — ``faq_edit``
- ``POST /api/faq/suggest`` ``{"text"}`` → ``{"suggestions": [{entry_id, question,
  answer, score, trigger}…]}`` — ``faq_read``
Page: ``/faq`` lists the entries with forms to add, edit, delete and import, and tries
an utterance (``?q=``); its forms post to ``/faq…`` and come back to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from rokuon.assist import knowledge, service
from rokuon.web.deps import (
    Auth,
    api_auth,
    check_csrf,
    db_session,
    require_action,
    require_scope,
    runtime,
    ui_auth,
)

router = APIRouter()
JSON_BODY = Body(None)  # parsed by hand after the role check (a 403 before any 422)
UPLOAD = File(None)  # missing: a 422 that says what is expected


def faq_read_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "faq_read")
    require_scope(auth, "calls:read")
    return auth


def faq_edit_auth(auth: Auth = Depends(api_auth)) -> Auth:
    require_action(auth, "faq_edit")
    require_scope(auth, "calls:write")
    return auth


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(status_code=422, detail="body: a JSON object is expected")
    return body


def _fail(s: Session, exc: Exception) -> HTTPException:
    s.rollback()
    if isinstance(exc, service.FaqNotFound):
        return HTTPException(status_code=404, detail=str(exc))
    return HTTPException(status_code=422, detail=str(exc))


ERRORS = (service.FaqError, service.FaqNotFound, knowledge.FaqFormatError)


async def _upload(file: UploadFile | None) -> tuple[str, bytes]:
    if file is None or not file.filename:
        raise HTTPException(status_code=422, detail="file: an FAQ file (.csv or .md) is "
                                                    "expected")
    data = await file.read(knowledge.MAX_FILE_BYTES + 1)
    return file.filename.rsplit("/", 1)[-1][:200], data


def _suggest(request: Request, s: Session, text: Any) -> list[dict[str, Any]]:
    from rokuon.assist.suggest import shared_suggester

    if not isinstance(text, str) or not text.strip():
        raise HTTPException(status_code=422, detail="text: what the customer said is "
                                                    "expected")
    return shared_suggester(runtime(request).settings).suggest(s, text[:2000])


@router.get("/api/faq")
def list_faq(auth: Auth = Depends(faq_read_auth), s: Session = Depends(db_session)
             ) -> dict[str, Any]:
    return {"entries": [service.entry_dict(e) for e in service.list_entries(s)]}


@router.post("/api/faq", status_code=201)
def create_faq(request: Request, body: Any = JSON_BODY, auth: Auth = Depends(faq_edit_auth),
               s: Session = Depends(db_session)) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        return service.entry_dict(service.create_entry(s, auth.principal, _body(body)))
    except ERRORS as exc:
        raise _fail(s, exc) from exc


@router.put("/api/faq/{entry_id}")
def update_faq(request: Request, entry_id: int, body: Any = JSON_BODY,
               auth: Auth = Depends(faq_edit_auth), s: Session = Depends(db_session)
               ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        return service.entry_dict(service.update_entry(s, auth.principal, entry_id,
                                                       _body(body)))
    except ERRORS as exc:
        raise _fail(s, exc) from exc


@router.delete("/api/faq/{entry_id}")
def delete_faq(request: Request, entry_id: int, auth: Auth = Depends(faq_edit_auth),
               s: Session = Depends(db_session)) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    try:
        service.delete_entry(s, auth.principal, entry_id)
    except ERRORS as exc:
        raise _fail(s, exc) from exc
    return {"deleted": entry_id}


@router.post("/api/faq/import")
async def import_faq(request: Request, file: UploadFile | None = UPLOAD,
                     replace: bool = False, auth: Auth = Depends(faq_edit_auth),
                     s: Session = Depends(db_session)) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    name, data = await _upload(file)
    try:
        items = knowledge.parse_bytes(data, name)
        return {"file": name, **service.import_items(s, auth.principal, items, source=name,
                                                     replace=replace)}
    except ERRORS as exc:
        raise _fail(s, exc) from exc


@router.post("/api/faq/suggest")
def suggest_faq(request: Request, body: Any = JSON_BODY,
                auth: Auth = Depends(faq_read_auth), s: Session = Depends(db_session)
                ) -> dict[str, Any]:
    check_csrf(auth, request.headers.get("x-csrf-token"))
    return {"suggestions": _suggest(request, s, _body(body).get("text"))}


# ---- the /faq page ----------------------------------------------------------------------

def _page(request: Request, auth: Auth, s: Session, *, status: int = 200,
          error: str | None = None, q: str = "", notice: str | None = None) -> Response:
    from rokuon.web.ui import render

    tried = _suggest(request, s, q) if q.strip() else None
    return render(request, "faq.html", status_code=status, auth=auth, error=error,
                  notice=notice, q=q, tried=tried,
                  entries=[service.entry_dict(e) for e in service.list_entries(s)],
                  limits={"question": knowledge.MAX_QUESTION_CHARS,
                          "answer": knowledge.MAX_ANSWER_CHARS})


def _form_csrf(request: Request, auth: Auth, csrf: str) -> None:
    check_csrf(auth, csrf or request.headers.get("x-csrf-token"))


def _back(notice: str, entry_id: int | None = None) -> RedirectResponse:
    anchor = f"#faq-{entry_id}" if entry_id is not None else ""
    return RedirectResponse(f"/faq?done={notice}{anchor}", status_code=303)


def _form_data(question: str, answer: str, tags: str, language: str) -> dict[str, Any]:
    return {"question": question, "answer": answer,
            "tags": list(knowledge.split_tags(tags)), "language": language or None}


@router.get("/faq", response_class=HTMLResponse)
def faq_page(request: Request, q: str = "", done: str = "", auth: Auth = Depends(ui_auth),
             s: Session = Depends(db_session)) -> Response:
    require_action(auth, "faq_edit")
    notice = done if done in ("created", "saved", "deleted", "imported") else None
    return _page(request, auth, s, q=q[:500], notice=notice)


@router.post("/faq")
def create_form(request: Request, csrf: str = Form(""), question: str = Form(""),
                answer: str = Form(""), tags: str = Form(""), language: str = Form(""),
                auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "faq_edit")
    try:
        e = service.create_entry(s, auth.principal,
                                 _form_data(question, answer, tags, language))
    except ERRORS as exc:
        s.rollback()
        return _page(request, auth, s, status=422, error=str(exc))
    return _back("created", e.id)


@router.post("/faq/import")
async def import_form(request: Request, csrf: str = Form(""), replace: str = Form(""),
                      file: UploadFile | None = UPLOAD, auth: Auth = Depends(ui_auth),
                      s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "faq_edit")
    try:
        name, data = await _upload(file)
        items = knowledge.parse_bytes(data, name)
        service.import_items(s, auth.principal, items, source=name, replace=bool(replace))
    except HTTPException as exc:
        return _page(request, auth, s, status=422, error=str(exc.detail))
    except ERRORS as exc:
        s.rollback()
        return _page(request, auth, s, status=422, error=str(exc))
    return _back("imported")


@router.post("/faq/{entry_id}")
def update_form(request: Request, entry_id: int, csrf: str = Form(""),
                question: str = Form(""), answer: str = Form(""), tags: str = Form(""),
                language: str = Form(""), active: str = Form(""),
                auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "faq_edit")
    data = {**_form_data(question, answer, tags, language), "active": bool(active)}
    try:
        service.update_entry(s, auth.principal, entry_id, data)
    except service.FaqNotFound as exc:
        raise _fail(s, exc) from exc
    except ERRORS as exc:
        s.rollback()
        return _page(request, auth, s, status=422, error=str(exc))
    return _back("saved", entry_id)


@router.post("/faq/{entry_id}/delete")
def delete_form(request: Request, entry_id: int, csrf: str = Form(""),
                auth: Auth = Depends(ui_auth), s: Session = Depends(db_session)) -> Response:
    _form_csrf(request, auth, csrf)
    require_action(auth, "faq_edit")
    try:
        service.delete_entry(s, auth.principal, entry_id)
    except ERRORS as exc:
        raise _fail(s, exc) from exc
    return _back("deleted")
