"""The real-time rule set as versioned data. Version 0 is the configuration's
``live_rules``; every save (browser, API, CLI) is the next version, validated as a whole
(every problem named, nothing saved when there is one) and audited. The newest version
is what live calls are checked against (``RuleSource`` gives it to the live board,
re-read every few seconds, so an edit applies to calls already running)."""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rokuon.access import audit, permissions
from rokuon.access.principal import Principal
from rokuon.live.rules import CONDITIONS, KINDS
from rokuon.store.models import LiveRuleVersion
from rokuon.validation import ProblemsError, number, phrases

SPEAKERS = ("agent", "customer", "any")
FIELDS = ("name", "kind", "when", "enabled", "threshold", "list", "speaker", "phrases",
          "within_s", "over_s", "matching")
NUMBERS = {"threshold": (0.0, 10.0), "within_s": (1.0, 3600.0), "over_s": (1.0, 3600.0)}
NEEDS = {"complaint_score": "threshold", "keyword": "list", "phrase": "phrases",
         "no_announcement": "within_s", "silence": "over_s"}
MAX_RULES = 100


class LiveRulesError(ProblemsError):
    """The rules cannot be saved; ``problems`` lists each reason."""


def _rule(raw: Any, n: int, lists: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"rule {n + 1}: must be an object")
        return {}
    name = str(raw.get("name") or "").strip()
    where = f"rule {name or n + 1}"
    if not name or len(name) > 60:
        problems.append(f"{where}: a name of 1–60 characters")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))[:120]}")
    when, kind = raw.get("when"), raw.get("kind")
    if when not in CONDITIONS:
        problems.append(f"{where} when: one of {', '.join(CONDITIONS)}")
    if kind not in KINDS:
        problems.append(f"{where} kind: one of {', '.join(KINDS)}")
    out: dict[str, Any] = {"name": name, "kind": kind, "when": when,
                           "enabled": raw.get("enabled", True) not in (False, "false", "0")}
    for key, (lo, hi) in NUMBERS.items():
        x = number(raw.get(key), f"{where} {key}", problems, lo, hi)
        if x is not None:
            out[key] = x
    if when == "keyword":
        lst = str(raw.get("list") or "")
        if lst not in lists:
            problems.append(f"{where} list: unknown keyword list {lst[:40]!r} "
                            f"(one of {', '.join(sorted(lists)) or 'none configured'})")
        out["list"] = lst
    if when == "phrase":
        out["phrases"] = phrases(raw.get("phrases"), f"{where} phrases", problems)
        speaker = raw.get("speaker") or "any"
        if speaker not in SPEAKERS:
            problems.append(f"{where} speaker: one of {', '.join(SPEAKERS)}")
        out["speaker"] = speaker
    if isinstance(raw.get("matching"), dict):
        out["matching"] = raw["matching"]
    need = NEEDS.get(str(when))
    if need in NUMBERS and need not in out and raw.get(need) in (None, ""):
        problems.append(f"{where} {need}: required for {when}")
    return out


def validate(raw: Any, *, keyword_lists: set[str]) -> list[dict[str, Any]]:
    """The rule set, cleaned; ``LiveRulesError`` with every problem otherwise."""
    problems: list[str] = []
    if not isinstance(raw, list):
        raise LiveRulesError(["rules: a list of rules is expected"])
    if len(raw) > MAX_RULES:
        raise LiveRulesError([f"rules: at most {MAX_RULES}"])
    rules = [_rule(r, n, keyword_lists, problems) for n, r in enumerate(raw)]
    names = [r.get("name") for r in rules if r.get("name")]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"rule {dup}: the name is used twice")
    if problems:
        raise LiveRulesError(problems)
    return rules


def _configured(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in cfg.get("live_rules") or [] if isinstance(r, dict)]


def current(s: Session, cfg: dict[str, Any]) -> dict[str, Any]:
    """``{"version", "rules", "updated_by", "updated_at", "note"}`` (version 0: the
    configuration's rules)."""
    row = s.scalars(select(LiveRuleVersion).order_by(LiveRuleVersion.version.desc())
                    .limit(1)).first()
    if row is None:
        return {"version": 0, "rules": _configured(cfg), "updated_by": None,
                "updated_at": None, "note": None}
    return {"version": row.version, "rules": copy.deepcopy(row.rules),
            "updated_by": row.created_by, "updated_at": row.created_at.isoformat(),
            "note": row.note}


def history(s: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = s.scalars(select(LiveRuleVersion).order_by(LiveRuleVersion.version.desc())
                     .limit(limit))
    return [{"version": r.version, "rules": len(r.rules), "by": r.created_by,
             "at": r.created_at.isoformat(), "note": r.note} for r in rows]


def save(s: Session, principal: Principal, cfg: dict[str, Any], raw: Any, *,
         base_version: int | None = None, note: Any = None) -> dict[str, Any]:
    """Validate and store ``raw`` as the next version (audited); with ``base_version``,
    refuse when another version was saved since."""
    permissions.require(principal, "admin")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise LiveRulesError(["note: at most 2000 characters of text"])
    now = current(s, cfg)
    if base_version is not None and base_version != now["version"]:
        raise LiveRulesError([f"version {now['version']} was saved by {now['updated_by']} "
                              f"after version {base_version} that you edited: reload it"])
    clean = validate(raw, keyword_lists={str(k) for k in (cfg.get("keywords") or {})})
    top = s.scalar(select(func.max(LiveRuleVersion.version))) or 0
    row = LiveRuleVersion(version=top + 1, rules=clean, note=(note or "").strip() or None,
                          created_by=principal.name)
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError as exc:
        raise LiveRulesError(["another version was saved at the same moment: reload it"]
                             ) from exc
    before = {r.get("name") for r in now["rules"]}
    after = {r["name"] for r in clean}
    audit.record(s, principal, "live_rules.save", object_type="live_rules",
                 object_id=str(row.version),
                 detail={"previous": now["version"], "added": sorted(after - before),
                         "removed": sorted(before - after),
                         "disabled": sorted(r["name"] for r in clean if not r["enabled"]),
                         "note": row.note})
    return current(s, cfg)


class RuleSource:
    """The analysis configuration with the newest saved live rules in place of the
    configured ones, for the live board; re-read at most every ``ttl_s`` seconds."""

    def __init__(self, cfg: Callable[[], dict[str, Any]], session: Callable[[], Any],
                 ttl_s: float = 5.0) -> None:
        self._cfg, self._session, self.ttl_s = cfg, session, ttl_s
        self._lock = threading.Lock()
        self._at = -math.inf
        self._rules: list[dict[str, Any]] | None = None

    def refresh(self) -> None:
        """Read the rules again at the next use (after a save in this process)."""
        with self._lock:
            self._at = -math.inf

    def __call__(self) -> dict[str, Any]:
        cfg = self._cfg()
        with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                try:
                    with self._session() as s:
                        cur = current(s, cfg)
                    self._rules = cur["rules"] if cur["version"] else None
                except Exception:  # noqa: BLE001 - keep the last known rules
                    import logging

                    logging.getLogger("rokuon.live").exception("reading live rules")
                self._at = time.monotonic()
            rules = self._rules
        if rules is None:
            return cfg
        return {**cfg, "live_rules": rules}  # the board leaves out the rules switched off
