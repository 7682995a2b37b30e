"""An editor form of repeated rows (``{prefix}{n}_{field}``), as the scorecard and
real-time rule editors use: rows ↔ items, blank rows left out, a row ticked "remove"
dropped, list fields one entry per line, and the rows as sent kept so that a refused
save shows the form again exactly as the user left it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RowForm:
    prefix: str  # "c" → c0_id, c0_label …
    fields: tuple[str, ...]
    keys: tuple[str, ...]  # a row with none of these filled in is no item (yet)
    flags: tuple[str, ...] = ()  # check boxes kept in the item as True/False
    lists: tuple[str, ...] = ("phrases",)  # one entry per line
    max_rows: int = 60
    blank_rows: int = 3

    def _name(self, n: int, field: str) -> str:
        return f"{self.prefix}{n}_{field}"

    def read(self, form: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """The items the form describes, and every row with something in it as sent
        (with ``remove``), to show again on an error."""
        items, rows = [], []
        for n in range(self.max_rows):
            row = {f: str(form.get(self._name(n, f)) or "").strip() for f in self.fields}
            for f in (*self.flags, "remove"):
                row[f] = "1" if form.get(self._name(n, f)) else ""
            if not any(row[f] for f in self.fields):
                continue
            rows.append(row)
            if row["remove"] or not any(row[k] for k in self.keys):
                continue
            item: dict[str, Any] = {k: v for k, v in row.items()
                                    if v != "" and k in self.fields}
            for f in self.lists:
                if f in item:
                    item[f] = [p for p in item[f].splitlines() if p.strip()]
            for f in self.flags:
                item[f] = bool(row[f])
            items.append(item)
        return items, rows

    def blank(self, n: int | None = None) -> list[dict[str, str]]:
        """Empty rows to add items in (flags ticked, as a new item is switched on)."""
        empty = {**{f: "" for f in self.fields}, **{f: "1" for f in self.flags}}
        return [dict(empty) for _ in range(self.blank_rows if n is None else n)]

    def rows(self, items: list[Mapping[str, Any]], blank: int | None = None
             ) -> list[dict[str, str]]:
        """The form's rows for ``items``, then ``blank`` empty ones. A flag missing
        from an item counts as ticked."""
        out = []
        for item in items:
            row = {f: "" for f in self.fields}
            for f in self.fields:
                v = item.get(f)
                if v is None:
                    continue
                if f in self.lists:
                    row[f] = "\n".join(str(p) for p in v)
                elif isinstance(v, float) and v.is_integer():
                    row[f] = str(int(v))
                else:
                    row[f] = str(v)
            for f in self.flags:
                row[f] = "" if item.get(f, True) is False else "1"
            out.append(row)
        return out + self.blank(blank)
