"""Post-call analyzers: pure functions over a transcript (and audio features).

Each analyzer has a name and an integer version; the pipeline stores each
result as its own versioned row, so a new version never overwrites an old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rokuon.engine.analysis.talk_metrics import VERSION as TALK_METRICS_VERSION
from rokuon.engine.analysis.talk_metrics import talk_metrics
from rokuon.engine.types import Segment


@dataclass(frozen=True)
class Analyzer:
    name: str
    version: int
    run: Callable[[list[Segment], float], dict[str, Any]]


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("metrics", TALK_METRICS_VERSION, talk_metrics),
)


def run_all(segments: list[Segment], duration_s: float) -> dict[str, tuple[int, dict[str, Any]]]:
    """Run every analyzer; one failing analyzer reports its error instead of a result."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for a in ANALYZERS:
        try:
            out[a.name] = (a.version, a.run(segments, duration_s))
        except Exception as exc:  # noqa: BLE001 - an analyzer bug must not lose the call
            out[a.name] = (a.version, {"error": f"{type(exc).__name__}: {exc}"})
    return out
