"""Breach reports (漏えい等報告, APPI art. 26 and Enforcement Rules art. 7–10).

An incident records what happened, when it was found (発覚日) and when it happened
(発生日), the suspected scope, the cause and whether it was unauthorised access. The
affected calls are computed from the audit log — every content access (view, play,
download, disclose) in the incident's time window, by the named actors if any — plus
calls named explicitly; the affected persons are the distinct customer numbers of those
calls (a call without a number counts as one more person: the upper bound).

Deadlines from discovery: the preliminary report (速報) within 5 calendar days (the
rules say "promptly", 3–5 days in the PPC guidelines), the final report (確報) within
30 days, 60 when the incident involves unauthorised access (不正の目的). ``overdue`` is
true once a deadline has passed without the report being recorded.

Notices to persons (本人への通知) are recorded per person. The export carries the
fields of the PPC report form, counts only — no personal data."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from rokuon.access import audit, permissions
from rokuon.access.principal import Principal
from rokuon.store.models import AuditEntry, BreachIncident, BreachNotice, Call, utcnow

PRELIMINARY_DAYS = 5
FINAL_DAYS = 30
FINAL_DAYS_UNAUTHORIZED = 60
CONTENT_ACTIONS = ("call.view", "call.play", "call.download", "call.disclose")
ACCESS_OUTCOMES = ("ok", "break_glass")
NOTICE_METHODS = ("letter", "email", "phone", "sms", "in_person", "public_notice")
STATUSES = ("open", "preliminary_reported", "final_reported", "closed")
LARGE_SCALE = 1000  # rules art. 7(4): more than 1,000 persons


class BreachError(ValueError):
    """A refused breach action (bad input, unknown incident); one line."""


def _require(principal: Principal) -> None:
    try:
        permissions.require(principal, "export")
    except permissions.Forbidden as exc:
        raise BreachError(str(exc)) from None


def parse_time(value: str | None, name: str, tz: str, *, end: bool = False
               ) -> datetime | None:
    """ISO 8601 date or date-time; a bare date is the start (or end) of that day in the
    installation's time zone."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return datetime.combine(date.fromisoformat(v), time.max if end else time.min,
                                    tzinfo=ZoneInfo(tz))
        at = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise BreachError(f"--{name}: '{v}' is not a date or date-time "
                          "(YYYY-MM-DD or YYYY-MM-DDTHH:MM[+09:00])") from None
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(tz))


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=ZoneInfo("UTC")) if at and at.tzinfo is None else at


def _digits(number: str | None) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", number or ""))


def _get(s: Session, incident_id: str) -> BreachIncident:
    inc = s.get(BreachIncident, incident_id)
    if inc is None:
        raise BreachError(f"incident {incident_id} not found")
    return inc


def create(s: Session, principal: Principal, *, title: str, description: str,
           discovered_at: datetime | None = None, occurred_from: datetime | None = None,
           occurred_to: datetime | None = None, scope: str | None = None,
           cause: str | None = None, unauthorized_access: bool = False,
           data_items: list[str] | None = None, actors: list[str] | None = None,
           call_ids: list[str] | None = None, window_from: datetime | None = None,
           window_to: datetime | None = None) -> BreachIncident:
    _require(principal)
    if not title.strip() or not description.strip():
        raise BreachError("an incident needs a title and a description of what happened")
    discovered_at = discovered_at or utcnow()
    if discovered_at > utcnow() + timedelta(minutes=5):
        raise BreachError("--discovered-at is in the future")
    if occurred_from and occurred_to and occurred_to < occurred_from:
        raise BreachError("--occurred-to is before --occurred-from")
    if occurred_from and occurred_from > discovered_at:
        raise BreachError("--occurred-from is after --discovered-at (found before it "
                          "happened?)")
    w_from = window_from or occurred_from
    w_to = window_to or occurred_to or discovered_at
    if w_from and w_to < w_from:
        raise BreachError("the access window ends before it starts")
    unknown = sorted({c for c in call_ids or [] if s.get(Call, c) is None})
    if unknown:
        raise BreachError(f"unknown call(s): {', '.join(unknown)}")
    inc = BreachIncident(
        title=title.strip()[:300], description=description.strip(),
        discovered_at=discovered_at, occurred_from=occurred_from, occurred_to=occurred_to,
        scope=scope, cause=cause, unauthorized_access=unauthorized_access,
        data_items=[d.strip() for d in data_items or [] if d.strip()] or
        ["通話録音（音声）", "文字起こし", "電話番号"],
        criteria={"from": w_from.isoformat() if w_from else None, "to": w_to.isoformat(),
                  "actors": sorted(set(actors or [])), "calls": sorted(set(call_ids or [])),
                  "actions": list(CONTENT_ACTIONS)},
        status="open", created_by=principal.name)
    s.add(inc)
    s.flush()
    audit.record(s, principal, "breach.create", object_type="breach", object_id=inc.id,
                 detail={"title": inc.title, "unauthorized_access": unauthorized_access,
                         "criteria": inc.criteria})
    return inc


_UPDATABLE = ("scope", "cause", "secondary_damage", "prevention", "response_to_persons",
              "description")


def update(s: Session, principal: Principal, incident_id: str, *,
           reported: str | None = None, reported_at: datetime | None = None,
           close: bool = False, **fields: str | None) -> BreachIncident:
    """Fill in the report's fields as they become known; record a report sent to the
    PPC (``reported`` = preliminary | final); close the incident."""
    _require(principal)
    inc = _get(s, incident_id)
    bad = sorted(set(fields) - set(_UPDATABLE))
    if bad:
        raise BreachError(f"cannot update {', '.join(bad)}")
    changed = {k: v for k, v in fields.items() if v is not None}
    for k, v in changed.items():
        setattr(inc, k, v)
    at = reported_at or utcnow()
    if reported == "preliminary":
        inc.preliminary_reported_at = at
        if inc.status == "open":
            inc.status = "preliminary_reported"
    elif reported == "final":
        missing = [f for f in ("cause", "prevention") if not getattr(inc, f)]
        if missing:
            raise BreachError(f"the final report needs {' and '.join(missing)} "
                              "(--cause, --prevention)")
        inc.final_reported_at = at
        inc.status = "final_reported"
    elif reported is not None:
        raise BreachError(f"--reported must be preliminary or final; got {reported!r}")
    if close:
        if inc.final_reported_at is None:
            raise BreachError("record the final report (--reported final) before closing")
        inc.status = "closed"
    audit.record(s, principal, "breach.update", object_type="breach", object_id=inc.id,
                 detail={"fields": sorted(changed), "reported": reported,
                         "status": inc.status})
    return inc


def deadlines(inc: BreachIncident, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    found = _aware(inc.discovered_at)
    assert found is not None
    final_days = FINAL_DAYS_UNAUTHORIZED if inc.unauthorized_access else FINAL_DAYS
    out: dict[str, Any] = {}
    for stage, days, done in (("preliminary", PRELIMINARY_DAYS, inc.preliminary_reported_at),
                              ("final", final_days, inc.final_reported_at)):
        due = found + timedelta(days=days)
        out[stage] = {"due_at": due.isoformat(), "days": days,
                      "reported_at": _aware(done).isoformat() if done else None,
                      "overdue": done is None and now > due,
                      "days_left": None if done else (due - now).days}
    return out


def _window(inc: BreachIncident) -> tuple[datetime | None, datetime]:
    c = inc.criteria or {}
    lo = datetime.fromisoformat(c["from"]) if c.get("from") else None
    return lo, datetime.fromisoformat(c["to"])


def affected(s: Session, principal: Principal, incident_id: str, *, record: bool = True
             ) -> dict[str, Any]:
    """The affected calls and persons, from the audit log and the named calls."""
    _require(principal)
    inc = _get(s, incident_id)
    crit = inc.criteria or {}
    lo, hi = _window(inc)
    q = select(AuditEntry).where(AuditEntry.object_type == "call",
                                 AuditEntry.action.in_(crit.get("actions") or CONTENT_ACTIONS),
                                 AuditEntry.outcome.in_(ACCESS_OUTCOMES), AuditEntry.at <= hi)
    if lo is not None:
        q = q.where(AuditEntry.at >= lo)
    if crit.get("actors"):
        q = q.where(AuditEntry.actor.in_(crit["actors"]))
    calls: dict[str, dict[str, Any]] = {}
    for e in s.scalars(q.order_by(AuditEntry.at, AuditEntry.id)):
        c = calls.setdefault(str(e.object_id), {"call_id": str(e.object_id), "accesses": 0,
                                                "actors": set(), "actions": set(),
                                                "first_at": e.at, "last_at": e.at,
                                                "named": False})
        c["accesses"] += 1
        c["actors"].add(e.actor)
        c["actions"].add(e.action)
        c["last_at"] = e.at
    for cid in crit.get("calls") or []:
        calls.setdefault(cid, {"call_id": cid, "accesses": 0, "actors": set(),
                               "actions": set(), "first_at": None, "last_at": None})
        calls[cid]["named"] = True
    rows = {c.id: c for c in s.scalars(select(Call).where(Call.id.in_(list(calls))))}
    persons: dict[str, list[str]] = {}
    unknown = 0
    out_calls = []
    for cid, c in sorted(calls.items()):
        call = rows.get(cid)
        person = _digits(call.customer_number) if call else ""
        if person:
            persons.setdefault(person, []).append(cid)
        else:
            unknown += 1
        out_calls.append({"call_id": cid, "accesses": c["accesses"],
                          "actors": sorted(c["actors"]), "actions": sorted(c["actions"]),
                          "first_at": _iso(c["first_at"]), "last_at": _iso(c["last_at"]),
                          "named": bool(c.get("named")), "erased": call is None,
                          "person": person or None,
                          "started_at": _iso(call.started_at) if call else None})
    notified = {n.person: n for n in s.scalars(select(BreachNotice).where(
        BreachNotice.incident_id == inc.id))}
    out_persons = [{"person": p, "calls": ids, "notified_at": _iso(notified[p].notified_at)
                    if p in notified else None,
                    "method": notified[p].method if p in notified else None}
                   for p, ids in sorted(persons.items())]
    res = {"incident_id": inc.id,
           "window": {"from": _iso(lo), "to": _iso(hi), "actors": crit.get("actors") or [],
                      "actions": crit.get("actions") or list(CONTENT_ACTIONS)},
           "calls": out_calls, "persons": out_persons,
           "counts": {"calls": len(out_calls), "persons": len(persons) + unknown,
                      "persons_known": len(persons), "calls_without_number": unknown,
                      "accesses": sum(c["accesses"] for c in out_calls),
                      "notified": sum(1 for p in out_persons if p["notified_at"])}}
    if record:
        audit.record(s, principal, "breach.affected", object_type="breach",
                     object_id=inc.id, detail=res["counts"])
    return res


def _iso(at: datetime | None) -> str | None:
    a = _aware(at)
    return a.isoformat() if a else None


def notify(s: Session, principal: Principal, incident_id: str, *, persons: list[str],
           all_persons: bool = False, method: str, note: str | None = None
           ) -> list[BreachNotice]:
    """Record notices to affected persons (by number, or every one not yet notified)."""
    _require(principal)
    if method not in NOTICE_METHODS:
        raise BreachError(f"--method must be one of {', '.join(NOTICE_METHODS)}; "
                          f"got {method!r}")
    if not persons and not all_persons:
        raise BreachError("name the person(s) notified (--person NUMBER) or --all")
    aff = affected(s, principal, incident_id, record=False)
    by_person = {p["person"]: p for p in aff["persons"]}
    wanted = [p["person"] for p in aff["persons"] if not p["notified_at"]] if all_persons \
        else [_digits(p) for p in persons]
    out: list[BreachNotice] = []
    for p in wanted:
        if p not in by_person:
            raise BreachError(f"{p or '(empty)'} is not an affected person of incident "
                              f"{incident_id}")
        if by_person[p]["notified_at"]:
            raise BreachError(f"{p} was notified already ({by_person[p]['notified_at']})")
        n = BreachNotice(incident_id=incident_id, person=p, call_ids=by_person[p]["calls"],
                         method=method, note=note, notified_by=principal.name)
        s.add(n)
        out.append(n)
    s.flush()
    audit.record(s, principal, "breach.notify", object_type="breach", object_id=incident_id,
                 detail={"notices": len(out), "method": method})
    return out


def doc(s: Session, inc: BreachIncident, tz: str, now: datetime | None = None
        ) -> dict[str, Any]:
    zone = ZoneInfo(tz)

    def loc(at: datetime | None) -> str | None:
        a = _aware(at)
        return a.astimezone(zone).isoformat() if a else None

    d = deadlines(inc, now)
    return {"incident_id": inc.id, "title": inc.title, "description": inc.description,
            "status": inc.status, "discovered_at": loc(inc.discovered_at),
            "occurred_from": loc(inc.occurred_from), "occurred_to": loc(inc.occurred_to),
            "scope": inc.scope, "cause": inc.cause,
            "unauthorized_access": inc.unauthorized_access, "data_items": inc.data_items,
            "secondary_damage": inc.secondary_damage, "prevention": inc.prevention,
            "response_to_persons": inc.response_to_persons, "criteria": inc.criteria,
            "deadlines": d, "overdue": d["preliminary"]["overdue"] or d["final"]["overdue"],
            "created_by": inc.created_by, "created_at": loc(inc.created_at)}


def show(s: Session, principal: Principal, incident_id: str, tz: str) -> dict[str, Any]:
    _require(principal)
    inc = _get(s, incident_id)
    out = doc(s, inc, tz)
    out["affected"] = affected(s, principal, incident_id, record=False)["counts"]
    audit.record(s, principal, "breach.show", object_type="breach", object_id=inc.id)
    return out


def list_incidents(s: Session, principal: Principal, tz: str, *, overdue_only: bool = False,
                   now: datetime | None = None) -> list[dict[str, Any]]:
    _require(principal)
    rows = [doc(s, i, tz, now) for i in s.scalars(
        select(BreachIncident).order_by(BreachIncident.discovered_at.desc()))]
    if overdue_only:
        rows = [r for r in rows if r["overdue"]]
    audit.record(s, principal, "breach.list", detail={"rows": len(rows)})
    return rows


# the PPC report form (漏えい等報告書), in its order: key, label
FORM: tuple[tuple[str, str], ...] = (
    ("report_type", "報告区分（速報／確報）"),
    ("summary", "概要"),
    ("occurred_at", "発生日"),
    ("discovered_at", "発覚日"),
    ("categories", "事態の区分（規則第7条）"),
    ("data_items", "漏えい等が発生し、又は発生したおそれがある個人データの項目"),
    ("persons", "漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数"),
    ("cause", "発生原因"),
    ("secondary_damage", "二次被害又はそのおそれの有無及びその内容"),
    ("response_to_persons", "本人への対応の実施状況"),
    ("prevention", "再発防止のための措置"),
    ("scope", "漏えい等の範囲（推定）"),
    ("unauthorized_access", "不正アクセス等（不正の目的）の有無"),
    ("preliminary_due", "速報期限"),
    ("final_due", "確報期限"),
)


def export(s: Session, principal: Principal, incident_id: str, tz: str,
           now: datetime | None = None) -> dict[str, Any]:
    """The PPC report form's fields (counts, no personal data)."""
    _require(principal)
    inc = _get(s, incident_id)
    d = doc(s, inc, tz, now)
    aff = affected(s, principal, incident_id, record=False)
    n = aff["counts"]["persons"]
    cats = []
    if inc.unauthorized_access:
        cats.append("3: 不正の目的をもって行われたおそれがある個人データの漏えい等")
    if n > LARGE_SCALE:
        cats.append("4: 個人データに係る本人の数が1,000人を超える漏えい等")
    notified = aff["counts"]["notified"]
    fields = {
        "report_type": "確報" if inc.preliminary_reported_at else "速報",
        "summary": f"{inc.title}: {inc.description}",
        "occurred_at": " – ".join(x for x in (d["occurred_from"], d["occurred_to"]) if x)
        or "不明",
        "discovered_at": d["discovered_at"],
        "categories": cats,
        "data_items": inc.data_items,
        "persons": n,
        "cause": inc.cause or "調査中",
        "secondary_damage": inc.secondary_damage or "調査中",
        "response_to_persons": (inc.response_to_persons or "")
        + f"（通知済み {notified} / {aff['counts']['persons_known']} 人）",
        "prevention": inc.prevention or "検討中",
        "scope": inc.scope or f"通話 {aff['counts']['calls']} 件",
        "unauthorized_access": "有" if inc.unauthorized_access else "無",
        "preliminary_due": d["deadlines"]["preliminary"]["due_at"],
        "final_due": d["deadlines"]["final"]["due_at"],
    }
    audit.record(s, principal, "breach.export", object_type="breach", object_id=inc.id,
                 detail={"persons": n, "calls": aff["counts"]["calls"]})
    return {"incident_id": inc.id, "fields": fields,
            "form": [{"key": k, "label": label, "value": fields[k]} for k, label in FORM],
            "deadlines": d["deadlines"], "overdue": d["overdue"],
            "counts": aff["counts"]}


def export_csv(rep: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["key", "label", "value"])
    for row in rep["form"]:
        v = row["value"]
        w.writerow([row["key"], row["label"], "; ".join(map(str, v)) if isinstance(v, list)
                    else v])
    return buf.getvalue()


REMIND_DAYS = 1  # a pending report due within this many days is reminded of


def reminders(rt: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """The daily reminder inside ``rokuon serve`` (with retention): every report that is
    overdue or due within ``REMIND_DAYS`` days, logged as a warning and audited."""
    import logging

    now = now or utcnow()
    out: list[dict[str, Any]] = []
    with rt.db.session() as s:
        for inc in s.scalars(select(BreachIncident).where(BreachIncident.status != "closed")):
            for stage, d in deadlines(inc, now).items():
                if d["reported_at"] is None and (
                        d["overdue"] or datetime.fromisoformat(d["due_at"])
                        <= now + timedelta(days=REMIND_DAYS)):
                    out.append({"incident_id": inc.id, "title": inc.title, "stage": stage,
                                "due_at": d["due_at"], "overdue": d["overdue"]})
        if out:
            audit.record(s, Principal(name="breach-scheduler", role="admin", source="serve"),
                         "breach.remind", detail={"reminders": out[:100]})
    log = logging.getLogger(__name__)
    for r in out:
        log.warning("breach %s (%s): the %s report is %s (due %s)", r["incident_id"],
                    r["title"], r["stage"], "OVERDUE" if r["overdue"] else "due soon",
                    r["due_at"])
    return out
