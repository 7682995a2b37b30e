"""The scorecard editor's form fields ↔ a card: one row of fields per criterion
(``c{n}_id``, ``c{n}_type``, …; phrases one per line), blank rows ignored, a row
ticked "remove" left out. Validation is ``rokuon.scorecards.validate``'s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELDS = ("id", "label", "type", "speaker", "phrases", "within_s", "last_s", "list",
          "metric", "min", "max", "weight")
MAX_ROWS = 60
BLANK_ROWS = 3


def from_form(form: Mapping[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for n in range(MAX_ROWS):
        row = {f: str(form.get(f"c{n}_{f}") or "").strip() for f in FIELDS}
        if form.get(f"c{n}_remove") or not (row["id"] or row["label"] or row["phrases"]):
            continue
        crit: dict[str, Any] = {k: v for k, v in row.items() if v != ""}
        if "phrases" in crit:
            crit["phrases"] = [p for p in crit["phrases"].splitlines() if p.strip()]
        rows.append(crit)
    return {"title": form.get("title", ""), "pass_score": form.get("pass_score", ""),
            "criteria": rows}


def to_rows(card: Mapping[str, Any], blank: int = BLANK_ROWS) -> list[dict[str, str]]:
    """The form's rows for ``card`` (its criteria, then ``blank`` empty ones)."""
    out = []
    for c in card.get("criteria") or []:
        row = {f: "" for f in FIELDS}
        for f in FIELDS:
            v = c.get(f)
            if v is None:
                continue
            if f == "phrases":
                row[f] = "\n".join(str(p) for p in v)
            elif isinstance(v, float) and v.is_integer():
                row[f] = str(int(v))
            else:
                row[f] = str(v)
        out.append(row)
    return out + [{f: "" for f in FIELDS} for _ in range(blank)]
