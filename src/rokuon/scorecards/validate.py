"""What a scorecard may say. A card that is empty, contradicts itself or names
something the analyzers do not produce is refused with every problem named, and
nothing is saved (the criterion types are those of ``rokuon.engine.analysis.qa``)."""

from __future__ import annotations

import math
import re
from typing import Any

from rokuon.validation import ProblemsError, number, phrases, text

MAX_CRITERIA = 50
MAX_WINDOW_S = 36000.0
MAX_WEIGHT = 1000.0
ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
SPEAKERS = ("agent", "customer", "any")

PHRASE_TYPES = ("phrase_present", "phrase_absent", "self_introduction",
                "apology_when_complaint")
METRIC_TYPES = ("metric_max", "metric_min", "metric_range")
TYPES = (*PHRASE_TYPES, "consent_announced", "consent_asked", "keyword_absent",
         *METRIC_TYPES, "sentiment_recovery")

# the figures a metric criterion may test (dotted paths into the analysis results)
METRICS = (
    "metrics.parties.agent.talk_share", "metrics.parties.customer.talk_share",
    "metrics.parties.agent.talk_s", "metrics.parties.agent.longest_monologue_s",
    "metrics.parties.agent.speech_rate_mora_per_min",
    "metrics.parties.agent.interruptions_made", "metrics.parties.agent.response_latency_s",
    "metrics.silence_s", "metrics.overlap_s", "metrics.interruptions",
    "metrics.silence.longest_s", "metrics.hold.total_s", "metrics.hold.longest_s",
    "fillers.agent.per_min", "fillers.agent.count",
    "sentiment.customer.score", "sentiment.agent.score",
)
EVIDENCE = {"fillers.agent.per_min": "fillers.agent.hits",
            "fillers.agent.count": "fillers.agent.hits"}


class ScorecardError(ProblemsError):
    """The card cannot be saved; ``problems`` lists each reason."""


def _criterion(raw: Any, n: int, lists: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"criterion {n}: must be an object")
        return {}
    cid = str(raw.get("id") or "").strip()
    where = f"criterion {cid or n}"
    if not ID.match(cid):
        problems.append(f"{where}: id must be 1–40 lower-case letters, digits or _")
    kind = raw.get("type")
    if kind not in TYPES:
        problems.append(f"{where}: unknown type {str(kind)[:40]!r} (one of {', '.join(TYPES)})")
    out: dict[str, Any] = {"id": cid, "type": kind,
                           "label": text(raw.get("label"), f"{where} label", problems)}
    weight = number(raw.get("weight"), f"{where} weight", problems, 0.0, MAX_WEIGHT)
    if weight is None:
        if raw.get("weight") in (None, ""):
            problems.append(f"{where} weight: required")
    elif weight <= 0:
        problems.append(f"{where} weight: must be more than 0")
    out["weight"] = weight or 0.0
    if kind not in TYPES:  # what else it needs depends on the type
        return {}
    if kind in PHRASE_TYPES:
        out["phrases"] = phrases(raw.get("phrases"), f"{where} phrases", problems)
    if kind in ("phrase_present", "phrase_absent"):
        speaker = raw.get("speaker") or "agent"
        if speaker not in SPEAKERS:
            problems.append(f"{where} speaker: one of {', '.join(SPEAKERS)}")
        out["speaker"] = speaker
    for key in ("within_s", "last_s"):
        if key in raw and raw[key] not in (None, ""):
            x = number(raw[key], f"{where} {key}", problems, 0.0, MAX_WINDOW_S)
            if x is not None:
                out[key] = x
    if "within_s" in out and "last_s" in out:
        problems.append(f"{where}: either within the first seconds or the last, not both")
    if kind == "keyword_absent":
        name = str(raw.get("list") or "")
        if name not in lists:
            problems.append(f"{where} list: unknown keyword list {name[:40]!r} "
                            f"(one of {', '.join(sorted(lists)) or 'none configured'})")
        out["list"] = name
    if kind in METRIC_TYPES:
        metric = str(raw.get("metric") or "")
        if metric not in METRICS:
            problems.append(f"{where} metric: unknown {metric[:60]!r}")
        out["metric"] = metric
        if metric in EVIDENCE:
            out["evidence_from"] = EVIDENCE[metric]
        lo = number(raw.get("min"), f"{where} min", problems, -1e9, 1e9)
        hi = number(raw.get("max"), f"{where} max", problems, -1e9, 1e9)
        if kind in ("metric_min", "metric_range") and lo is None:
            problems.append(f"{where} min: required for {kind}")
        if kind in ("metric_max", "metric_range") and hi is None:
            problems.append(f"{where} max: required for {kind}")
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{where}: min {lo:g} is above max {hi:g} (no call could pass)")
        if lo is not None and kind != "metric_max":
            out["min"] = lo
        if hi is not None and kind != "metric_min":
            out["max"] = hi
    return out


def _window(c: dict[str, Any]) -> tuple[str, float | None, float | None]:
    return c.get("speaker", "agent"), c.get("within_s"), c.get("last_s")


def _contradictions(criteria: list[dict[str, Any]], problems: list[str]) -> None:
    present = [c for c in criteria if c.get("type") == "phrase_present"]
    absent = [c for c in criteria if c.get("type") == "phrase_absent"]
    for a in present:
        for b in absent:
            same = set(a.get("phrases", [])) & set(b.get("phrases", []))
            sa, sb = a.get("speaker"), b.get("speaker")
            overlap_speaker = sa == sb or "any" in (sa, sb)
            if same and overlap_speaker and (b.get("within_s") is None
                                             and b.get("last_s") is None
                                             or _window(a) == _window(b)):
                problems.append(f"criteria {a['id']} and {b['id']} contradict: "
                                f"{sorted(same)[0]!r} must be said and must not be")
    ranges: dict[str, tuple[float, float, str]] = {}
    for c in criteria:
        if c.get("type") not in METRIC_TYPES or not c.get("metric"):
            continue
        lo, hi = c.get("min", -math.inf), c.get("max", math.inf)
        if c["metric"] in ranges:
            plo, phi, pid = ranges[c["metric"]]
            if max(lo, plo) > min(hi, phi):
                problems.append(f"criteria {pid} and {c['id']} contradict: no value of "
                                f"{c['metric']} passes both")
            lo, hi = max(lo, plo), min(hi, phi)
        ranges[c["metric"]] = (lo, hi, c["id"] if c["metric"] not in ranges
                               else ranges[c["metric"]][2])


def card(raw: Any, *, keyword_lists: set[str]) -> dict[str, Any]:
    """The clean card ``{"title", "pass_score", "criteria"}`` or ScorecardError."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ScorecardError(["the scorecard must be an object with title, pass_score "
                              "and criteria"])
    title = text(raw.get("title"), "title", problems)
    pass_score = number(raw.get("pass_score"), "pass_score", problems, 0.0, 100.0)
    if pass_score is None and raw.get("pass_score") in (None, ""):
        problems.append("pass_score: required (0–100)")
    items = raw.get("criteria")
    if not isinstance(items, list) or not items:
        problems.append("criteria: at least one criterion")
        items = []
    if len(items) > MAX_CRITERIA:
        problems.append(f"criteria: at most {MAX_CRITERIA} ({len(items)} given)")
        items = items[:MAX_CRITERIA]
    criteria = [c for c in (_criterion(r, i + 1, keyword_lists, problems)
                            for i, r in enumerate(items)) if c]
    ids = [c["id"] for c in criteria]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"criterion {dup}: the id is used more than once")
    _contradictions(criteria, problems)
    if problems:
        raise ScorecardError(problems)
    return {"title": title, "pass_score": pass_score, "criteria": criteria}


def name(value: Any) -> str:
    v = str(value or "")
    if not NAME.match(v):
        raise ScorecardError([f"scorecard name {v[:60]!r}: 1–60 lower-case letters, digits "
                              "or _, starting with a letter"])
    return v
