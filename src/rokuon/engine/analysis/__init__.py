"""Post-call analyzers: pure functions over a transcript (and audio features).

Each analyzer has a name (its key in the call document's ``analysis``), an integer
version and ``run(inp, cfg, prior)``: ``inp`` is the call (segments, voice activity,
audio), ``cfg`` the analysis configuration (word lists, patterns, scorecards) and
``prior`` the results of the analyzers that ran before it (QA scoring reads them
all). The pipeline stores each result as its own versioned row, so a new version
never overwrites an old one.

No analyzer may crash the call: an exception becomes ``{"error": …}`` in its slot, and
an analyzer that cannot say anything (no audio, one-sided call, another language)
says so in its result.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

RunFn = Callable[[CallInput, dict[str, Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class Analyzer:
    name: str
    module: str  # rokuon.engine.analysis.<module> with VERSION and analyze()

    def load(self) -> tuple[int, RunFn]:
        mod = importlib.import_module(f"rokuon.engine.analysis.{self.module}")
        return mod.VERSION, mod.analyze


# in dependency order: later analyzers read earlier results from ``prior``
ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("metrics", "talk_metrics"),
    Analyzer("fillers", "fillers"),
    Analyzer("keywords", "keywords"),
    Analyzer("sentiment", "sentiment"),
    Analyzer("agitation", "agitation"),
    Analyzer("consent", "consent"),
    Analyzer("complaint", "complaint"),
    Analyzer("churn", "churn"),
    Analyzer("pii", "pii"),
    Analyzer("voc", "voc"),
    Analyzer("qa", "qa"),
    Analyzer("summary", "summary"),
)


def versions() -> dict[str, int]:
    return {a.name: a.load()[0] for a in ANALYZERS}


def run_all(inp: CallInput, cfg: dict[str, Any] | None = None,
            only: set[str] | None = None) -> dict[str, tuple[int, Any]]:
    """Run every analyzer (or those in ``only`` and what they depend on: all earlier
    ones are cheap); one failing analyzer reports its error instead of a result."""
    cfg = load_config() if cfg is None else cfg
    out: dict[str, tuple[int, Any]] = {}
    prior: dict[str, Any] = {}
    for a in ANALYZERS:
        try:
            version, run = a.load()
        except Exception as exc:  # noqa: BLE001
            out[a.name] = (0, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        try:
            result = run(inp, cfg, prior)
        except Exception as exc:  # noqa: BLE001 - an analyzer bug must not lose the call
            result = {"error": f"{type(exc).__name__}: {exc}"}
        prior[a.name] = result
        if only is None or a.name in only:
            out[a.name] = (version, result)
    return out
