"""Addresses: Sudachi place names with block numbers, GiNZA address entities."""

from __future__ import annotations

import re
from typing import Any

from rokuon.engine.analysis.pii.common import _Context, _Item, _Seg

# ---------------------------------------------------------------------------------------
# names and addresses

_ADDRESS_LABELS = frozenset({"Province", "City", "County", "GPE_Other", "Domestic_Region",
                             "Location_Other"})
_UNITS = frozenset({"丁目", "番地", "番", "号", "号室", "階", "条", "丁", "番街"})
_UNIT_ENDINGS = ("丁目", "番地", "号")
_JOINERS = frozenset({"-", "−", "－", "ー", "‐", "の"})
# block numbers after a place name, maybe a misheard character between (新宿に丁目8番1号)
_BLOCK_TAIL = re.compile(r"[^\s、。,.0-9]{0,2}?(?:丁目|番地|番)?"
                         r"(?:[0-9十]{1,4}(?:丁目|番地|番|号室|号|の|-)?){1,12}")


def _address_chain(toks: list[Any], k: int) -> tuple[int, bool]:
    """From place-name token ``k``: the end of the place names and block numbers that
    follow it (二丁目八番一号, 1-2-3, 101号室), and whether it names a block."""
    end = last = toks[k].end
    numbers, unit = 0, toks[k].surface.endswith(_UNIT_ENDINGS)
    for i in range(k + 1, min(len(toks), k + 40)):
        t = toks[i]
        if t.start != last:
            break
        last = t.end
        if t.surface.isspace() or t.surface in _JOINERS:
            continue
        if t.pos[1] == "数詞" or t.surface.isdigit():
            numbers += 1
        elif t.surface in _UNITS:
            unit = unit or numbers > 0
        elif t.pos[2:3] != ("地名",):
            break
        end = t.end
    return end, numbers >= 2 or unit


def _addresses(s: _Seg, ctx: _Context) -> list[_Item]:
    out: list[_Item] = []
    toks = s.tokens
    for k, t in enumerate(toks):
        if t.pos[2:3] != ("地名",) or (k and toks[k - 1].pos[2:3] == ("地名",)
                                       and toks[k - 1].end == t.start):
            continue
        end, numbered = _address_chain(toks, k)
        if numbered or ctx.nearest(s.idx, t.start) == "address":
            out.append(_Item("address", [(s.idx, t.start, end)], "rule",
                             0.75 if numbered else 0.65))
    for label, a, b in s.entities:
        if label == "Postal_Address":
            out.append(_Item("address", [(s.idx, a, b)], "ner", 0.85))
        elif label in _ADDRESS_LABELS and ctx.nearest(s.idx, a) == "address":
            out.append(_Item("address", [(s.idx, a, b)], "ner", 0.7))
    merged = _merge_same(out, s.view, gap=2)
    for it in merged:
        seg, a, b = it.parts[0]
        tail = _BLOCK_TAIL.match(s.view, b)
        if tail and any(u in tail.group() for u in ("丁目", "番", "号", "-")):
            it.parts = [(seg, a, tail.end())]
    return merged


def _merge_same(items: list[_Item], view: str, gap: int = 0) -> list[_Item]:
    """Single-segment items of one type that overlap, or lie at most ``gap`` characters
    apart with no punctuation between, become one (sources combined)."""
    out: list[_Item] = []
    for it in sorted(items, key=lambda i: (i.type, i.parts[0])):
        prev = out[-1] if out else None
        between = view[prev.parts[0][2]: it.parts[0][1]] if prev else ""
        if prev is not None and prev.type == it.type and prev.parts[0][0] == it.parts[0][0] \
                and it.parts[0][1] <= prev.parts[0][2] + gap and not any(
                    c in "、。,.!?！？ 　" for c in between):
            seg, a, b = prev.parts[0]
            prev.parts = [(seg, a, max(b, it.parts[0][2]))]
            if prev.source != it.source:
                prev.source, prev.confidence = "ner", min(0.95, max(prev.confidence,
                                                                     it.confidence) + 0.1)
            continue
        out.append(_Item(it.type, list(it.parts), it.source, it.confidence, it.hint))
    return out

