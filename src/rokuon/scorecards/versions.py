"""Scorecard versions: the configuration's cards (version 0) and every saved edit
(1, 2, …). The newest version of each card is what new calls are scored with; older
versions stay for the record and for re-score runs that name them."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rokuon.access import audit, permissions
from rokuon.access.principal import Principal
from rokuon.scorecards import validate
from rokuon.scorecards.validate import ScorecardError
from rokuon.store.models import ScorecardVersion

MAX_NOTE = 2000


class UnknownScorecard(LookupError):
    """No such card (404)."""


def keyword_lists(cfg: dict[str, Any]) -> set[str]:
    return {str(k) for k in (cfg.get("keywords") or {})}


def _configured(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): v for k, v in (cfg.get("scorecards") or {}).items() if isinstance(v, dict)}


def _as_card(row: ScorecardVersion) -> dict[str, Any]:
    return {"title": row.title, "pass_score": row.pass_score,
            "criteria": copy.deepcopy(row.criteria), "version": row.version,
            "updated_by": row.created_by, "updated_at": row.created_at.isoformat(),
            "note": row.note}


def _newest(s: Session) -> dict[str, ScorecardVersion]:
    top = (select(ScorecardVersion.name, func.max(ScorecardVersion.version).label("v"))
           .group_by(ScorecardVersion.name).subquery())
    rows = s.scalars(select(ScorecardVersion).join(
        top, (ScorecardVersion.name == top.c.name) & (ScorecardVersion.version == top.c.v)))
    return {r.name: r for r in rows}


def current(s: Session, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every card as it scores now: name → card (with ``version``; 0 = configuration)."""
    out = {n: {**copy.deepcopy(c), "version": 0, "updated_by": None, "updated_at": None,
               "note": None} for n, c in _configured(cfg).items()}
    out.update({n: _as_card(r) for n, r in _newest(s).items()})
    return out


def effective_config(s: Session, cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` with the newest saved version of each scorecard in place of the
    configuration's (what the analyze step scores with)."""
    newest = _newest(s)
    if not newest:
        return cfg
    return {**cfg, "scorecards": {**_configured(cfg),
                                  **{n: _as_card(r) for n, r in newest.items()}}}


def get(s: Session, cfg: dict[str, Any], name: str, version: int | None = None
        ) -> dict[str, Any]:
    if version is None:
        cards = current(s, cfg)
        if name not in cards:
            raise UnknownScorecard(f"scorecard {name!r} is not defined")
        return cards[name]
    if version == 0:
        conf = _configured(cfg).get(name)
        if conf is None:
            raise UnknownScorecard(f"scorecard {name!r} has no configured version")
        return {**copy.deepcopy(conf), "version": 0, "updated_by": None,
                "updated_at": None, "note": None}
    row = s.scalars(select(ScorecardVersion).where(ScorecardVersion.name == name,
                                                   ScorecardVersion.version == version)
                    ).first()
    if row is None:
        raise UnknownScorecard(f"scorecard {name!r} has no version {version}")
    return _as_card(row)


def history(s: Session, cfg: dict[str, Any], name: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(ScorecardVersion).where(ScorecardVersion.name == name)
                     .order_by(ScorecardVersion.version.desc())).all()
    out = [{"version": r.version, "title": r.title, "pass_score": r.pass_score,
            "criteria": len(r.criteria), "by": r.created_by, "at": r.created_at.isoformat(),
            "note": r.note} for r in rows]
    conf = _configured(cfg).get(name)
    if conf is not None:
        out.append({"version": 0, "title": conf.get("title", name),
                    "pass_score": conf.get("pass_score"),
                    "criteria": len(conf.get("criteria") or []), "by": None, "at": None,
                    "note": "configuration"})
    return out


def listing(s: Session, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    by_lang = (cfg.get("qa") or {}).get("scorecard_by_language") or {}
    return [{"name": n, "title": c.get("title", n), "version": c["version"],
             "pass_score": c.get("pass_score"), "criteria": len(c.get("criteria") or []),
             "languages": sorted(lang for lang, card in by_lang.items() if card == n),
             "updated_by": c.get("updated_by"), "updated_at": c.get("updated_at")}
            for n, c in sorted(current(s, cfg).items())]


def save(s: Session, principal: Principal, cfg: dict[str, Any], name: str, raw: Any, *,
         base_version: int | None = None, note: Any = None) -> dict[str, Any]:
    """Validate ``raw`` and store it as the card's next version (audited). With
    ``base_version``, refuse when someone saved another version since that one was
    read (no edit silently overwrites another)."""
    permissions.require(principal, "scorecards")
    name = validate.name(name)
    cards = current(s, cfg)
    if name not in cards:
        raise UnknownScorecard(f"scorecard {name!r} is not defined (one of "
                               f"{', '.join(sorted(cards))})")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise ScorecardError([f"note: at most {MAX_NOTE} characters of text"])
    now = cards[name]["version"]
    if base_version is not None and base_version != now:
        raise ScorecardError([f"version {now} was saved by {cards[name].get('updated_by')} "
                              f"after version {base_version} that you edited: reload it"])
    clean = validate.card(raw, keyword_lists=keyword_lists(cfg))
    row = ScorecardVersion(name=name, version=now + 1, title=clean["title"],
                           pass_score=clean["pass_score"], criteria=clean["criteria"],
                           note=(note or "").strip() or None, created_by=principal.name)
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError as exc:
        raise ScorecardError([f"version {now + 1} of {name} was saved by someone else at "
                              "the same moment: reload it"]) from exc
    before = {c.get("id") for c in cards[name].get("criteria") or []}
    after = {c["id"] for c in clean["criteria"]}
    audit.record(s, principal, "scorecard.save", object_type="scorecard", object_id=name,
                 detail={"version": row.version, "previous": now,
                         "added": sorted(after - before), "removed": sorted(before - after),
                         "pass_score": clean["pass_score"], "note": row.note})
    return _as_card(row)
