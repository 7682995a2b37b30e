"""Checking data that people edit (scorecards, real-time rules): each check appends
what is wrong to a list of problems instead of stopping at the first, so one answer
names every mistake; ``ProblemsError`` carries the list. One wording everywhere
("…: must be between 0 and 100", "…: at least one phrase")."""

from __future__ import annotations

import math
from typing import Any

MAX_TEXT = 200
MAX_PHRASES = 200


class ProblemsError(ValueError):
    """The data cannot be saved; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def text(v: Any, what: str, problems: list[str], *, required: bool = True,
         max_chars: int = MAX_TEXT) -> str:
    """A stripped one-line text (``""`` when missing or wrong)."""
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            problems.append(f"{what}: required")
        return ""
    if not isinstance(v, str):
        problems.append(f"{what}: must be text")
        return ""
    v = v.strip()
    if len(v) > max_chars or "\x00" in v:
        problems.append(f"{what}: at most {max_chars} characters of text")
    return v


def number(v: Any, what: str, problems: list[str], lo: float, hi: float) -> float | None:
    """A number in [lo, hi]; None when missing (``None`` or ``""``) or wrong."""
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        problems.append(f"{what}: not a number ({str(v)[:20]!r})")
        return None
    if math.isnan(x) or not lo <= x <= hi:
        problems.append(f"{what}: must be between {lo:g} and {hi:g}")
        return None
    return x


def phrases(v: Any, what: str, problems: list[str], *, max_items: int = MAX_PHRASES,
            max_chars: int = MAX_TEXT) -> list[str]:
    """A non-empty list of distinct phrases, given as a list or one phrase per line."""
    items = [] if v is None else v.splitlines() if isinstance(v, str) else v
    if not isinstance(items, list):
        problems.append(f"{what}: a list of phrases")
        return []
    out: list[str] = []
    for p in items:
        p = p.strip() if isinstance(p, str) else p
        if not p:
            continue
        if not isinstance(p, str) or len(p) > max_chars or "\x00" in p:
            problems.append(f"{what}: each phrase at most {max_chars} characters of text")
            continue
        if p not in out:
            out.append(p)
    if not out:
        problems.append(f"{what}: at least one phrase")
    if len(out) > max_items:
        problems.append(f"{what}: at most {max_items} phrases ({len(out)} given)")
    return out
