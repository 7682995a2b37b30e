"""The call list: filters, flags, sort and server-side pages over the calls a principal
may see (the access door's scope), each row with its QA score, flags and customer
sentiment from the call's report figures (``call_kpis``).

Flags: ``complaint``, ``churn``, ``negative`` (customer sentiment), ``no_announcement``
(the recording announcement was not heard), ``qa_failed``, ``ng`` (an NG word was
said), ``pii`` (personal or card data was found). A filter by customer number compares
digits only and matches the end of the number, so 「03-1234-5678」, 「+81 3 1234 5678」 and
「5678」 all find a call from 0312345678."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.calls.document import call_summary
from rokuon.store.models import Call, CallKeywordHit, CallKpi
from rokuon.text.normalize import normalize

FLAGS = ("complaint", "churn", "negative", "no_announcement", "qa_failed", "ng", "pii")
SORTS = ("started", "duration", "qa", "agent")
PAGE_SIZE = 50
COUNT_CAP = 10_000  # the list counts its matches up to this many


class ListError(ValueError):
    """A filter that cannot be applied (the message names it)."""


@dataclass
class CallFilter:
    since: date | datetime | None = None
    until: date | datetime | None = None
    agent: str | None = None
    direction: str | None = None
    status: str | None = None
    team: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    flag: str | None = None
    keyword: str | None = None
    customer_number: str | None = None
    sort: str = "started"
    descending: bool = True
    limit: int = 200
    offset: int = 0

    def check(self) -> CallFilter:
        """Raise ListError on a filter that makes no sense (reversed ranges, unknown
        flag or sort)."""
        if self.flag is not None and self.flag not in FLAGS:
            raise ListError(f"flag: '{self.flag}' is not one of {', '.join(FLAGS)}")
        if self.sort not in SORTS:
            raise ListError(f"sort: '{self.sort}' is not one of {', '.join(SORTS)}")
        for name in ("min_score", "max_score"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 100:
                raise ListError(f"{name}: {v:g} is not a QA score (0–100)")
        if self.min_score is not None and self.max_score is not None \
                and self.min_score > self.max_score:
            raise ListError(f"min_score {self.min_score:g} is above max_score "
                            f"{self.max_score:g}")
        if self.since and self.until and _day(self.since) > _day(self.until):
            raise ListError(f"since {self.since} is after until {self.until}")
        if self.customer_number is not None and len(number_digits(self.customer_number)) < 4:
            raise ListError("customer_number: at least 4 digits are needed")
        return self


def _day(d: date | datetime) -> date:
    return d.date() if isinstance(d, datetime) else d


def _aware(d: date | datetime, tz: str, *, end: bool = False) -> datetime:
    if isinstance(d, datetime):
        return d if d.tzinfo else d.replace(tzinfo=ZoneInfo(tz))
    return datetime.combine(d, time.max if end else time.min, tzinfo=ZoneInfo(tz))


def number_digits(number: str) -> str:
    """The digits to look for at the end of a stored number: a national number's
    leading 0 and a +81 country code are dropped so both spellings meet."""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+81") and digits.startswith("81"):
        digits = digits[2:]
    elif len(digits) >= 10 and digits.startswith("0"):
        digits = digits[1:]
    return digits


def _stored_digits() -> Any:
    col = Call.customer_number
    for ch in ("-", " ", "(", ")", "+", "."):
        col = func.replace(col, ch, "")
    return col


def _flag_condition(flag: str) -> Any:
    if flag == "ng":
        return exists(select(CallKeywordHit.id).where(CallKeywordHit.call_id == Call.id,
                                                      CallKeywordHit.list == "ng"))
    k = aliased(CallKpi)  # the list joins call_kpis itself: a separate one here
    cond = {"complaint": k.complaint.is_(True), "churn": k.churn.is_(True),
            "negative": k.negative.is_(True), "no_announcement": k.announced.is_(False),
            "qa_failed": k.qa_passed.is_(False), "pii": k.pii > 0}[flag]
    return exists(select(k.call_id).where(k.call_id == Call.id, cond))


def apply(q: Select[Any], f: CallFilter, tz: str) -> Select[Any]:
    """``q`` (a select over Call) restricted by ``f``."""
    started = Call.started_at
    if f.since is not None:
        q = q.where(started >= _aware(f.since, tz))
    if f.until is not None:
        q = q.where(started <= _aware(f.until, tz, end=True))
    if f.agent:
        q = q.where(Call.agent == f.agent)
    if f.direction:
        q = q.where(Call.direction == f.direction)
    if f.status:
        q = q.where(Call.status == f.status)
    if f.team:  # as the door scopes supervisors: metadata "team" or the queue
        q = q.where(or_(Call.extra_metadata["team"].as_string() == f.team,
                        Call.queue == f.team))
    if f.min_score is not None:
        q = q.where(Call.qa_score >= f.min_score)
    if f.max_score is not None:
        q = q.where(Call.qa_score <= f.max_score)
    if f.flag:
        q = q.where(_flag_condition(f.flag))
    if f.keyword and normalize(f.keyword):
        word = f.keyword.strip()
        q = q.where(exists(select(CallKeywordHit.id).where(
            CallKeywordHit.call_id == Call.id,
            or_(CallKeywordHit.word == word, CallKeywordHit.word == normalize(word)))))
    if f.customer_number:
        digits = number_digits(f.customer_number)
        q = q.where(_stored_digits().like(f"%{digits}")) if digits else q.where(false())
    return q


def _order(q: Select[Any], f: CallFilter) -> Select[Any]:
    col = {"started": Call.started_at, "duration": Call.duration_s, "qa": Call.qa_score,
           "agent": Call.agent}[f.sort]
    key = col.desc() if f.descending else col.asc()
    tie = (Call.created_at.desc(), Call.id.desc()) if f.descending \
        else (Call.created_at.asc(), Call.id.asc())
    return q.order_by(key.nulls_last(), *tie)


def _flags(kpi: CallKpi | None, ng: bool) -> list[str]:
    out = ["ng"] if ng else []
    if kpi is None:
        return out
    for name, on in (("complaint", kpi.complaint is True), ("churn", kpi.churn is True),
                     ("negative", kpi.negative is True),
                     ("no_announcement", kpi.announced is False),
                     ("qa_failed", kpi.qa_passed is False),
                     ("pii", bool(kpi.pii))):
        if on:
            out.append(name)
    return out


def _row(call: Call, kpi: CallKpi | None, ng: bool, tz: str) -> dict[str, Any]:
    row = call_summary(call, tz)
    sentiment = None
    if kpi is not None and kpi.negative is not None:
        sentiment = "negative" if kpi.negative else "not_negative"
    row.update({"team": (call.extra_metadata or {}).get("team") or call.queue,
                "qa_passed": None if kpi is None else kpi.qa_passed,
                "flags": _flags(kpi, ng), "customer_sentiment": sentiment})
    return row


def describe(f: CallFilter) -> dict[str, Any]:
    return {k: str(v) for k, v in vars(f).items()
            if v is not None and k not in ("limit", "offset", "sort", "descending")}


def list_calls(session: Session, principal: Principal, f: CallFilter, tz: str
               ) -> list[dict[str, Any]]:
    """The rows of one page (``f.limit`` from ``f.offset``), in ``f``'s order; audited."""
    return page(session, principal, f, tz, count=False)["calls"]


def page(session: Session, principal: Principal, f: CallFilter, tz: str, *,
         count: bool = True) -> dict[str, Any]:
    """``{"calls": rows, "total": n | None, "more": bool, "offset", "limit"}``; audited.
    ``total`` counts the matches up to COUNT_CAP (``more``: there are more than that),
    so a list over millions of calls costs what one over ten thousand does."""
    f.check()
    q = select(Call, CallKpi).outerjoin(CallKpi, CallKpi.call_id == Call.id)
    q = _order(door.scope_filter(principal, apply(q, f, tz)), f).limit(f.limit).offset(f.offset)
    total: int | None = None
    with door.audited(session, principal, "call.list", filter=describe(f)):
        found = session.execute(q).all()
        ids = [c.id for c, _ in found]
        with_ng = set(session.scalars(
            select(CallKeywordHit.call_id).distinct()
            .where(CallKeywordHit.call_id.in_(ids), CallKeywordHit.list == "ng"))) \
            if ids else set()
        rows = [_row(c, k, c.id in with_ng, tz) for c, k in found]
        if count:
            matching = door.scope_filter(principal, apply(select(Call.id), f, tz))
            total = session.scalar(select(func.count()).select_from(
                matching.limit(COUNT_CAP + 1).subquery()))
    more = total is not None and total > COUNT_CAP
    return {"calls": rows, "total": min(total, COUNT_CAP) if total is not None else None,
            "more": more, "offset": f.offset, "limit": f.limit}


QUERY_KEYS = ("since", "until", "agent", "direction", "team", "min_score", "max_score",
              "flag", "keyword", "customer_number", "sort", "order")


def from_query(params: Any, *, page_size: int = PAGE_SIZE) -> tuple[CallFilter, int]:
    """(filter, page number) from the list page's query string (a mapping of str);
    empty fields are ignored; a bad value raises ListError naming the field."""
    def text(name: str, limit: int = 200) -> str | None:
        v = str(params.get(name) or "").strip()
        if len(v) > limit:
            raise ListError(f"{name}: at most {limit} characters")
        return v or None

    def day(name: str) -> date | None:
        v = text(name, 10)
        try:
            return date.fromisoformat(v) if v else None
        except ValueError as exc:
            raise ListError(f"{name}: '{v}' is not a date (YYYY-MM-DD)") from exc

    def score(name: str) -> float | None:
        v = text(name, 10)
        try:
            return float(v) if v else None
        except ValueError as exc:
            raise ListError(f"{name}: '{v}' is not a number") from exc

    direction = text("direction", 10)
    if direction not in (None, "inbound", "outbound"):
        raise ListError(f"direction: '{direction}' must be inbound or outbound")
    order = text("order", 4) or "desc"
    if order not in ("asc", "desc"):
        raise ListError(f"order: '{order}' must be asc or desc")
    raw_page = text("page", 9) or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise ListError(f"page: '{raw_page}' is not a page number")
    n = int(raw_page)
    f = CallFilter(since=day("since"), until=day("until"), agent=text("agent"),
                   direction=direction, team=text("team", 100), min_score=score("min_score"),
                   max_score=score("max_score"), flag=text("flag", 30),
                   keyword=text("keyword"), customer_number=text("customer_number", 64),
                   sort=text("sort", 20) or "started", descending=order == "desc",
                   limit=page_size, offset=(n - 1) * page_size)
    return f.check(), n


def to_query(params: Any) -> str:
    """The filter part of a query string (no page), in a stable order: what a saved
    view keeps."""
    from urllib.parse import urlencode

    return urlencode([(k, str(params.get(k)).strip()) for k in QUERY_KEYS
                      if str(params.get(k) or "").strip()])
