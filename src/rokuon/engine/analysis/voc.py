"""Voice-of-customer tags for one call: requests (要望), complaints, competitor
mentions, churn intent and topic keywords — each with who said it and when.
Complaint and churn tags come from their analyzers; topics are the call's most
frequent content nouns (Sudachi dictionary forms)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.patterns import match, options
from rokuon.text.japanese import tokens
from rokuon.text.normalize import normalize

VERSION = 2  # 2: requests and competitors also match by reading


def _requests(inp: CallInput, cfg: dict[str, Any], c: dict[str, Any],
              prior: dict[str, Any]) -> list[dict[str, Any]]:
    """Customer utterances that ask for something — not consent answers, not the
    churn statements (tagged as churn), not short answers."""
    skip = {e.get("segment") for e in (prior.get("consent") or {}).get("evidence", [])}
    skip |= {e.get("segment") for e in (prior.get("churn") or {}).get("evidence", [])}
    min_chars = int(c.get("min_request_chars", 8))
    opts = options(cfg, c, {"matching": c.get("request_matching")})
    out = []
    for idx, seg in enumerate(inp.segments):
        if seg.speaker == "agent" or idx in skip or len(seg.text.strip()) < min_chars:
            continue
        hits = match(seg.text, list(c.get("requests", [])), opts)
        if hits:
            how = "text" if any(h.matched == "text" for h in hits) else "reading"
            out.append(finding(idx, seg, seg.start, seg.end, tag="request",
                               label=seg.text[:80], matched=how))
    return out


def _topics(inp: CallInput, c: dict[str, Any]) -> list[dict[str, Any]]:
    stop = {normalize(w) for w in c.get("topic_stopwords", [])}
    pos = set(c.get("topic_pos", ["名詞"]))
    counts: Counter[str] = Counter()
    first: dict[str, tuple[int, float]] = {}
    for idx, seg in enumerate(inp.segments):
        for t in tokens(seg.text):
            if t.pos[0] not in pos or t.pos[1] in ("数詞", "助動詞語幹") or len(t.surface) < 2:
                continue
            key = normalize(t.normal)
            if key in stop or key.isdigit():
                continue
            counts[t.normal] += 1
            first.setdefault(t.normal, (idx, seg.start))
    top = [w for w, n in counts.most_common(int(c.get("max_topics", 8))) if n >= 1]
    return [{"tag": "topic", "label": w, "count": counts[w], "segment": first[w][0],
             "start": round(first[w][1], 2),
             "speaker": inp.segments[first[w][0]].speaker} for w in top]


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("voc", {})
    tags: list[dict[str, Any]] = _requests(inp, cfg, c, prior)
    competitors: list[str] = []
    opts = options(cfg, c)
    for idx, seg in enumerate(inp.segments):
        if seg.speaker == "agent":
            continue
        for h in match(seg.text, list(c.get("competitors", [])), opts):
            name = h.phrase
            tags.append(finding(idx, seg, seg.start, seg.end, tag="competitor", label=name,
                                chars=[h.start, h.end], matched=h.matched))
            if name not in competitors:
                competitors.append(name)
    for source in ("complaint", "churn"):
        res = prior.get(source) or {}
        if res.get("detected"):
            for ev in res.get("evidence", [])[:5]:
                tags.append({**{k: ev[k] for k in ("speaker", "start", "end", "segment")
                                if k in ev}, "tag": source, "label": ev.get("cue")})
    topics = _topics(inp, c)
    return {"tags": sorted(tags, key=lambda t: t.get("start", 0)) + topics,
            "requests": sum(1 for t in tags if t["tag"] == "request"),
            "competitors": competitors,
            "complaint": bool((prior.get("complaint") or {}).get("detected")),
            "churn": bool((prior.get("churn") or {}).get("detected")),
            "topics": [t["label"] for t in topics]}
