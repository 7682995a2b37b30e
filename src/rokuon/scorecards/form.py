"""The scorecard editor's form fields ↔ a card: one row of fields per criterion
(``c{n}_id``, ``c{n}_type``, …; phrases one per line), blank rows ignored, a row
ticked "remove" left out (``rokuon.row_form``). Validation is
``rokuon.scorecards.validate``'s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rokuon.row_form import RowForm

FIELDS = ("id", "label", "type", "speaker", "phrases", "within_s", "last_s", "list",
          "metric", "min", "max", "weight")
ROWS = RowForm("c", FIELDS, keys=("id", "label", "phrases"), max_rows=60, blank_rows=3)


def read(form: Mapping[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The card the form describes, and its rows as sent (to show again on an error)."""
    criteria, rows = ROWS.read(form)
    return ({"title": form.get("title", ""), "pass_score": form.get("pass_score", ""),
             "criteria": criteria}, rows)


def from_form(form: Mapping[str, str]) -> dict[str, Any]:
    return read(form)[0]


def to_rows(card: Mapping[str, Any], blank: int | None = None) -> list[dict[str, str]]:
    """The form's rows for ``card`` (its criteria, then ``blank`` empty ones)."""
    return ROWS.rows(list(card.get("criteria") or []), blank)
