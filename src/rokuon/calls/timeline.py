"""The call timeline: who talked when, silence, hold and overlap, the customer's mood
and the analysis findings, as one JSON-able dict built from the call document
(``rokuon.calls.service.show_call``). Pure: no database, no web.

Shape (every time in seconds, clipped to ``[0, duration]``)::

    {"duration": 42.0,
     "lanes": [{"party": "agent", "talk": [{"start", "end"}…], "silence": […],
                "hold": […], "overlap": […]}, {"party": "customer", …}],
     "curves": {"sentiment": [{"t", "value"}…],           # -1 … 1
                "agitation": [{"t", "value", "level"}…]},  # 0 … 1
     "markers": [{"t", "end", "kind", "label", "group", "speaker"}…],
     "unavailable": ["agitation", …]}

Talk spans come from the transcript's segments (one party's segments merged), overlap
is where two parties' talk spans meet; silence and hold are the stretches that talk
metrics found (the same in every lane: nobody speaks). Sentiment is a point per
customer utterance (utterances the analyzer did not list are neutral, 0); agitation a
point per customer utterance when the voice analysis ran (calm ones 0). Markers:
keyword hits (NG / GOOD / custom), recording announcement and consent evidence,
complaint and abusive cues, interruptions and personal data — personal data by its
kind and position only, never its text. An analyzer that is absent, failed
(``{"error": …}``) or could not run leaves its part empty and is named in
``unavailable``; nothing here raises on a partial document.
"""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.context import Span
from rokuon.engine.analysis.talk_metrics import intersect, merge

PARTIES = ("agent", "customer")
FINAL_STATUSES = ("analyzed", "indexed", "failed")
AGITATION_SCALE = 6.0  # agitation scores are weighted z-scores capped at z_cap (6)
MAX_MARKERS = 500
CONSENT_KINDS = ("announcement", "consent_question", "consent_yes", "consent_no",
                 "consent_refused", "consent_not_answered")


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None  # no NaN / inf


def _payload(analysis: dict[str, Any], name: str) -> Any:
    """The analyzer's result, or None when it is absent or failed."""
    got = analysis.get(name)
    if got is None or (isinstance(got, dict) and "error" in got):
        return None
    return got


def _clip(s: float, e: float, duration: float) -> Span | None:
    s, e = max(0.0, min(s, duration)), max(0.0, min(e, duration))
    return (s, e) if e > s else None


def _as_dicts(spans: list[Span]) -> list[dict[str, float]]:
    return [{"start": round(s, 2), "end": round(e, 2)} for s, e in spans]


def duration_of(doc: dict[str, Any]) -> float:
    """The recording's length; without one, the end of the last segment."""
    d = _num(doc.get("duration_s"))
    if d and d > 0:
        return d
    ends = [_num(seg.get("end")) for seg in doc.get("segments") or []]
    return max((e for e in ends if e is not None), default=0.0)


def talk_spans(segments: list[dict[str, Any]], duration: float) -> dict[str, list[Span]]:
    """Per speaker, its segments merged (agent and customer always present)."""
    out: dict[str, list[Span]] = {p: [] for p in PARTIES}
    for seg in segments:
        if not isinstance(seg, dict):
            continue
        s, e = _num(seg.get("start")), _num(seg.get("end"))
        who = seg.get("speaker")
        if s is None or e is None or not isinstance(who, str) or not who:
            continue
        span = _clip(s, e, duration)
        if span is not None:
            out.setdefault(who, []).append(span)
    return {who: merge(v) for who, v in out.items()}


def overlaps(talk: dict[str, list[Span]]) -> list[Span]:
    parties = list(talk.values())
    return merge([x for i, a in enumerate(parties) for b in parties[i + 1:]
                  for x in intersect(a, b)])


def _stretches(metrics: dict[str, Any] | None, key: str, duration: float) -> list[Span]:
    block = (metrics or {}).get(key)
    rows = block.get("stretches") if isinstance(block, dict) else None
    out: list[Span] = []
    for r in rows if isinstance(rows, list) else []:
        if not isinstance(r, dict):
            continue
        s, e = _num(r.get("start")), _num(r.get("end"))
        span = None if s is None or e is None else _clip(s, e, duration)
        if span is not None:
            out.append(span)
    return merge(out)


def lanes(doc: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    analysis = doc.get("analysis") or {}
    metrics = _payload(analysis, "metrics")
    metrics = metrics if isinstance(metrics, dict) else None
    talk = talk_spans(doc.get("segments") or [], duration)
    both = overlaps(talk)
    silence = _stretches(metrics, "silence", duration)
    hold = _stretches(metrics, "hold", duration)
    out = []
    for party, spans in talk.items():
        out.append({"party": party, "talk": _as_dicts(spans),
                    "overlap": _as_dicts(intersect(spans, both)),
                    "silence": _as_dicts(silence), "hold": _as_dicts(hold)})
    return out


def _mid(row: dict[str, Any]) -> float | None:
    s, e = _num(row.get("start")), _num(row.get("end"))
    if s is None:
        return None
    return s if e is None or e < s else (s + e) / 2


def _customer_rows(doc: dict[str, Any]) -> list[tuple[int, float]]:
    """(segment index, mid time) of every customer utterance."""
    out = []
    for i, seg in enumerate(doc.get("segments") or []):
        t = _mid(seg) if isinstance(seg, dict) and seg.get("speaker") == "customer" else None
        if t is not None:
            out.append((i, t))
    return out


def sentiment_curve(doc: dict[str, Any], duration: float) -> list[dict[str, float]]:
    sent = _payload(doc.get("analysis") or {}, "sentiment")
    if not isinstance(sent, dict):
        return []
    scored: dict[int, float] = {}
    for u in sent.get("utterances") or []:
        v = _num(u.get("score")) if isinstance(u, dict) else None
        if v is not None and u.get("speaker") == "customer" and isinstance(u.get("segment"),
                                                                           int):
            scored[u["segment"]] = max(-1.0, min(1.0, v))
    return [{"t": round(min(t, duration), 2), "value": round(scored.get(i, 0.0), 3)}
            for i, t in _customer_rows(doc)]


def agitation_curve(doc: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    ag = _payload(doc.get("analysis") or {}, "agitation")
    customer = ag.get("customer") if isinstance(ag, dict) and ag.get("available") else None
    if not isinstance(customer, dict) or customer.get("level") is None:
        return []
    episodes: dict[int, tuple[float, str]] = {}
    for ep in customer.get("episodes") or []:
        v = _num(ep.get("score")) if isinstance(ep, dict) else None
        if v is not None and isinstance(ep.get("segment"), int):
            episodes[ep["segment"]] = (v, str(ep.get("level") or ""))
    out = []
    for i, t in _customer_rows(doc):
        score, level = episodes.get(i, (0.0, "calm"))
        out.append({"t": round(min(t, duration), 2),
                    "value": round(max(0.0, min(1.0, score / AGITATION_SCALE)), 3),
                    "level": level})
    return out


def _marker(row: dict[str, Any], duration: float, kind: str, label: str, group: str
            ) -> dict[str, Any] | None:
    s = _num(row.get("start", row.get("at")))
    if s is None:
        return None
    e = _num(row.get("end"))
    t = max(0.0, min(s, duration))
    end = t if e is None else max(t, min(e, duration))
    who = row.get("speaker")
    return {"t": round(t, 2), "end": round(end, 2), "kind": kind, "label": label,
            "group": group, "speaker": who if isinstance(who, str) else None}


def _rows(payload: Any, key: str | None = None) -> list[dict[str, Any]]:
    got = payload.get(key) if key and isinstance(payload, dict) else payload
    return [r for r in got if isinstance(r, dict)] if isinstance(got, list) else []


def keyword_markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    out = []
    for h in _rows(_payload(analysis, "keywords")):
        lst = str(h.get("list") or "custom")
        kind = f"kw_{lst}" if lst in ("ng", "good") else "kw_custom"
        out.append(_marker(h, duration, kind, str(h.get("word") or ""), "keywords"))
    return [m for m in out if m]


def consent_markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    out = []
    for ev in _rows(_payload(analysis, "consent"), "evidence"):
        kind = str(ev.get("kind") or "")
        if kind in CONSENT_KINDS:
            out.append(_marker(ev, duration, kind, str(ev.get("phrase") or ""), "consent"))
    return [m for m in out if m]


def complaint_markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    out = []
    for ev in _rows(_payload(analysis, "complaint"), "evidence"):
        kind = "abusive" if ev.get("kind") == "abusive" else "complaint"
        out.append(_marker(ev, duration, kind, str(ev.get("cue") or ""), "complaint"))
    return [m for m in out if m]


def interruption_markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    out = []
    for it in _rows(_payload(analysis, "metrics"), "interruptions_detail"):
        on = it.get("on")
        out.append(_marker({"at": it.get("at"), "speaker": it.get("by")}, duration,
                           "interruption", on if isinstance(on, str) else "", "talk"))
    return [m for m in out if m]


def pii_markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    """Personal data by kind and position: the label is the kind (phone, card_number …),
    nothing of what was said."""
    out = []
    for f in _rows(_payload(analysis, "pii")):
        kind = f.get("type")
        safe = kind if isinstance(kind, str) and kind.replace("_", "").isalnum() else "other"
        out.append(_marker({"start": f.get("start"), "end": f.get("end"),
                            "speaker": f.get("speaker")}, duration, "pii", safe, "pii"))
    return [m for m in out if m]


def markers(analysis: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    found = (keyword_markers(analysis, duration) + consent_markers(analysis, duration)
             + complaint_markers(analysis, duration) + interruption_markers(analysis, duration)
             + pii_markers(analysis, duration))
    return sorted(found, key=lambda m: (m["t"], m["group"], m["kind"]))[:MAX_MARKERS]


ANALYZERS = ("metrics", "sentiment", "agitation", "keywords", "consent", "complaint", "pii")
LIST_PAYLOADS = ("keywords", "pii")  # the others are objects


def unavailable(analysis: dict[str, Any]) -> list[str]:
    """The analyzers whose part of the timeline is missing (absent, failed, or — for
    agitation — nothing said of the customer's voice: no audio, too little speech)."""
    out = [name for name in ANALYZERS if not isinstance(
        _payload(analysis, name), list if name in LIST_PAYLOADS else dict)]
    ag = _payload(analysis, "agitation")
    customer = ag.get("customer") if isinstance(ag, dict) else None
    if isinstance(ag, dict) and (not ag.get("available") or not isinstance(customer, dict)
                                 or customer.get("level") is None):
        out.append("agitation")
    return sorted(set(out), key=ANALYZERS.index)


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """The timeline of one call document (see the module doc for its shape)."""
    duration = duration_of(doc)
    analysis = doc.get("analysis")
    doc = {**doc, "analysis": analysis if isinstance(analysis, dict) else {}}
    status = str(doc.get("status") or "")
    return {"call_id": doc.get("call_id"), "status": status,
            "final": status in FINAL_STATUSES, "duration": round(duration, 2),
            "lanes": lanes(doc, duration),
            "curves": {"sentiment": sentiment_curve(doc, duration),
                       "agitation": agitation_curve(doc, duration)},
            "markers": markers(doc["analysis"], duration),
            "unavailable": unavailable(doc["analysis"])}
