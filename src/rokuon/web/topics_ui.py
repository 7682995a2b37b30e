"""The VOC topics page (``/reports/topics``): what customers talked about in a period,
calls per topic and the change against the period before, example calls. Thin:
rokuon.reports.topics computes (and audits); this module only renders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rokuon.reports import topics as tp
from rokuon.reports.period import ReportError, parse_period
from rokuon.runtime import Runtime
from rokuon.web.dashboard_ui import scope_of
from rokuon.web.deps import Auth, db_session, require_action, runtime, ui_auth
from rokuon.web.ui import render

router = APIRouter()


@router.get("/reports/topics")
def topics_page(request: Request, since: str = "", until: str = "", topics: str = "",
                auth: Auth = Depends(ui_auth), s: Session = Depends(db_session),
                rt: Runtime = Depends(runtime)) -> Response:
    require_action(auth, "report")
    scope_key, scope_kw = scope_of(auth.principal)
    ctx: dict[str, Any] = {"auth": auth, "since": since, "until": until, "topics": topics,
                           "scope_key": scope_key, "scope_kw": scope_kw, "rep": None,
                           "error": None, "max_topics": tp.MAX_TOPICS}
    try:
        count = int(topics) if topics.strip() else None
    except ValueError:
        count = 0  # refused below with the same message as any other bad count
    try:
        period = parse_period(since or None, until or None, rt.settings.timezone)
        rep = tp.report(s, auth.principal, period, topics=count)
    except ReportError as exc:
        ctx["error"] = str(exc)
        return render(request, "topics.html", status_code=400, **ctx)
    q = {"since": period.since.isoformat(), "until": period.until.isoformat()}
    api = "/api/reports/topics?" + urlencode({**q, **({"topics": count} if count else {})})
    ctx.update(rep=rep, since=q["since"], until=q["until"], previous=period.previous(),
               json_link=api, csv_link=api + "&format=csv")
    return render(request, "topics.html", **ctx)
