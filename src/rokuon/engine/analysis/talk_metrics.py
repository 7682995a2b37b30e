"""Talk metrics from the speaker-attributed segments: who talked how long,
overlap, silence, interruptions. (Refined with per-channel VAD later.)"""

from __future__ import annotations

from typing import Any

from rokuon.engine.types import Segment

VERSION = 1


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _total(spans: list[tuple[float, float]]) -> float:
    return sum(e - s for s, e in spans)


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    i = j = 0
    total = 0.0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def talk_metrics(segments: list[Segment], duration_s: float) -> dict[str, Any]:
    by_role: dict[str, list[tuple[float, float]]] = {}
    for seg in segments:
        by_role.setdefault(seg.speaker, []).append((seg.start, seg.end))
    merged = {r: _merge(s) for r, s in by_role.items()}
    agent = merged.get("agent", [])
    customer = merged.get("customer", [])
    agent_s, customer_s = _total(agent), _total(customer)
    overlap = _intersect(agent, customer)
    anyone = _merge([span for spans in merged.values() for span in spans])
    silence = max(0.0, duration_s - _total(anyone))

    interruptions = 0
    ordered = sorted(segments, key=lambda s: s.start)
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if cur.speaker != prev.speaker and cur.start < prev.end - 0.3:
            interruptions += 1

    return {
        "agent_talk_s": round(agent_s, 2),
        "customer_talk_s": round(customer_s, 2),
        "overlap_s": round(overlap, 2),
        "silence_s": round(silence, 2),
        "interruptions": interruptions,
        "talk_ratio": round(agent_s / customer_s, 3) if customer_s else None,
        "speakers": {r: round(_total(s), 2) for r, s in merged.items()},
    }
