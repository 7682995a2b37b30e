"""The labelled corpus as analyzer input (ground-truth text and times)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import Segment

CALLS = Path(__file__).resolve().parents[2] / "data" / "calls"


def truth(name: str) -> dict[str, Any]:
    return json.loads((CALLS / name / "truth.json").read_text(encoding="utf-8"))


def call_input(name: str) -> CallInput:
    t = truth(name)
    segs = [Segment(speaker=u["speaker"], start=u["start"], end=u["end"], text=u["text"])
            for u in t["utterances"]]
    return CallInput(segments=segs, duration_s=t["duration_s"],
                     direction=t["labels"].get("direction"))


def names() -> list[str]:
    return sorted(p.name for p in CALLS.iterdir() if (p / "truth.json").exists())


def seg(speaker: str, start: float, end: float, text: str) -> Segment:
    return Segment(speaker=speaker, start=start, end=end, text=text)
