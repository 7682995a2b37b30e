"""The repeated-row editor form: items from rows, blank and removed rows, flags, list
fields, the rows as sent, and items back to rows."""

from __future__ import annotations

from rokuon.row_form import RowForm

FORM = RowForm("r", ("name", "phrases", "over_s"), keys=("name", "phrases"),
               flags=("enabled",), max_rows=5, blank_rows=2)


def test_items_and_rows_as_sent() -> None:
    items, rows = FORM.read({
        "r0_name": " a ", "r0_phrases": "はい\r\n\r\nいいえ", "r0_enabled": "1",
        "r1_name": "b", "r1_remove": "1",  # removed: shown again, not an item
        "r2_over_s": "5",  # no key field: shown again, not an item
        "r4_name": "c",  # a gap is fine; no tick: switched off
        "r9_name": "beyond max_rows"})
    assert items == [{"name": "a", "phrases": ["はい", "いいえ"], "enabled": True},
                     {"name": "c", "enabled": False}]
    assert [(r["name"], r["remove"], r["over_s"]) for r in rows] == \
        [("a", "", ""), ("b", "1", ""), ("", "", "5"), ("c", "", "")]


def test_items_back_to_rows() -> None:
    rows = FORM.rows([{"name": "a", "phrases": ["x", "y"], "over_s": 30.0},
                      {"name": "b", "enabled": False, "over_s": 2.5}])
    assert rows[0] == {"name": "a", "phrases": "x\ny", "over_s": "30", "enabled": "1"}
    assert rows[1] == {"name": "b", "phrases": "", "over_s": "2.5", "enabled": ""}
    assert rows[2:] == [{"name": "", "phrases": "", "over_s": "", "enabled": "1"}] * 2
    assert FORM.read({f"r{n}_{k}": v for n, r in enumerate(rows) for k, v in r.items()
                      if v})[0] == [{"name": "a", "phrases": ["x", "y"], "over_s": "30",
                                     "enabled": True},
                                    {"name": "b", "over_s": "2.5", "enabled": False}]
