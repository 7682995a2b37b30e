"""UI text in Japanese and English. The language comes from ?lang=, the ``lang``
cookie, or Accept-Language; Japanese by default.

The text lives in one module per area (``text_*.py``, each a ``TEXT`` dict of
``key → {"ja", "en"}``); they are merged here, and a key defined twice is an error at
import, so two areas cannot silently overwrite each other's words."""

from __future__ import annotations

from fastapi import Request

from rokuon.web.i18n import (
    text_admin,
    text_call,
    text_call_list,
    text_checklist,
    text_common,
    text_compliance_pages,
    text_crm,
    text_dashboard,
    text_export,
    text_live_rules,
    text_scorecards,
    text_search,
    text_timeline,
)

LANGS = ("ja", "en")
AREAS = (text_common, text_admin, text_live_rules, text_call, text_scorecards,
         text_dashboard, text_call_list, text_timeline, text_checklist, text_crm,
         text_compliance_pages, text_export, text_search)


def _merge() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for area in AREAS:
        twice = set(merged) & set(area.TEXT)
        if twice:
            raise RuntimeError(f"UI text keys defined twice ({area.__name__}): {sorted(twice)}")
        merged.update(area.TEXT)
    return merged


TEXT: dict[str, dict[str, str]] = _merge()


def pick_lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "ja"


def translator(lang: str):  # type: ignore[no-untyped-def]
    def t(key: str, **kw: object) -> str:
        entry = TEXT.get(key)
        s = entry.get(lang, entry["en"]) if entry else key
        return s.format(**kw) if kw else s

    return t
