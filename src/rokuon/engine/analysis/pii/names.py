"""Person names: GiNZA entities, Sudachi person-name tags, names introduced by context
(担当の木村さん, 家内の花子が, 花子さん), staff names (the agent's own, 〇〇の佐藤でございます),
and further mentions of a name found once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rokuon.engine.analysis.pii.common import (
    _CJK,
    _HIRAGANA,
    _MORPHOLOGY_MAX_CHARS,
    _NAME_CHAR,
    _NER_MAX_CHARS,
    _Config,
    _Context,
    _coverage,
    _Item,
    _Seg,
)
from rokuon.engine.analysis.pii.name_context import context_names


def _runs(toks: list[Any], tag: str) -> list[tuple[int, int]]:
    """Character spans of adjacent tokens whose third part-of-speech level is ``tag``."""
    out: list[tuple[int, int]] = []
    for t in toks:
        if t.pos[2:3] != (tag,):
            continue
        if out and out[-1][1] == t.start:
            out[-1] = (out[-1][0], t.end)
        else:
            out.append((t.start, t.end))
    return out


def _person_spans(s: _Seg, conf: _Config) -> list[tuple[int, int, str]]:
    """(start, end, source) of the person names in a segment: GiNZA Person entities and
    runs of Sudachi person-name tokens, without honorifics and company names."""
    spans = [(a, b, "ner") for label, a, b in s.entities if label == "Person"]
    spans += [(a, b, "rule") for a, b in _runs(s.tokens, "人名")]
    if len(s.view) <= _MORPHOLOGY_MAX_CHARS:
        spans += [(a, b, "rule") for a, b in _introduced(s.view, conf)]
        spans += [(a, b, "context") for a, b, certain in context_names(s, conf) if certain]
    out: list[tuple[int, int, str]] = []
    for a, b, src in spans:
        a, b = _trim_name(s.view, a, b, conf)
        if b <= a or _company_like(s.view, a, b, conf):
            continue
        if src == "rule" and not _honoured(s.view, b, conf) and (
                b - a < 2 or _HIRAGANA.fullmatch(s.view[a:b])):
            continue  # Sudachi calls many a lone kanji a name: 林様 yes, 領 no; おね no
        out.append((a, b, src))
    return _merge_spans(out)


def _introduced(view: str, conf: _Config) -> Iterable[tuple[int, int]]:
    """Whatever stands between 担当の and さん / 様 (「担当の黙村さん」: a name the
    dictionaries do not know, or misheard)."""
    for word in conf.staff_before:
        start = view.find(word)
        while start >= 0:
            a = start + len(word)
            for b in range(a + 1, min(len(view), a + 5)):
                if not _NAME_CHAR.match(view[b - 1]):
                    break
                if view.startswith(conf.honorifics, b):
                    yield a, b
                    break
            start = view.find(word, a)


def _honoured(view: str, b: int, conf: _Config) -> bool:
    """An honorific (様, さん …) follows position ``b``."""
    after = view[b: b + 16].lstrip()
    return after.startswith(conf.honorifics)


def _trim_name(view: str, a: int, b: int, conf: _Config) -> tuple[int, int]:
    text = view[a:b]
    for h in conf.honorifics:
        if len(text) > len(h) and text.endswith(h):
            b -= len(h)
            break
    while b > a and not _CJK.match(view[b - 1]) and not view[b - 1].isalnum():
        b -= 1
    return a, b


def _company_like(view: str, a: int, b: int, conf: _Config) -> bool:
    name, after = view[a:b], view[b: b + 12]
    if not _CJK.search(name):
        return True  # ASCII "names" are e-mail parts or English words
    if name.endswith(conf.company_suffixes):
        return True
    if any(after.startswith(sfx) for sfx in conf.company_suffixes if len(sfx) > 1):
        return True
    # a company name overlapping the span (any occurrence found in this window does)
    return any(view.find(c, max(0, a - len(c) + 1), b + len(c) - 1) >= 0
               for c in conf.company_names)


_RANK = ["both", "ner", "context", "rule"]


def _merge_spans(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for a, b, src in sorted(spans):
        if out and a <= out[-1][1]:
            pa, pb, psrc = out[-1]
            both = psrc != src and "ner" in (psrc, src, "both" if "both" in (psrc, src) else "")
            out[-1] = (pa, max(pb, b), "both" if both else min(psrc, src, key=_RANK.index))
        else:
            out.append((a, b, src))
    return out


def _staff_role(s: _Seg, a: int, b: int, conf: _Config) -> bool | None:
    """True: a staff member's name (the agent's own, or 「担当の木村さん」); False: a
    customer or third party; None: a name said by the agent that nothing marks."""
    before = s.view[max(0, a - 16): a].rstrip()
    if any(before.endswith(p) for p in conf.staff_before):
        return True
    if _honoured(s.view, b, conf) or s.seg.speaker == "customer":
        return False
    after = s.view[b: b + 16].lstrip()
    for p in conf.staff_after:
        if p in conf.staff_after_agent and s.seg.speaker != "agent":
            continue  # 小林です。 from an unknown speaker may be the customer
        if after.startswith(p):
            return after[len(p): len(p) + 1] not in ("ね", "か")  # 田中一郎ですね: the customer
    if before.endswith("の") and before[:-1].endswith(conf.company_suffixes +
                                                      conf.company_names):
        return True
    return None


def _org_before(view: str, a: int) -> tuple[int, int]:
    """The stretch naming the organisation in 「<organisation>の<staff name>」."""
    if a == 0 or view[a - 1] != "の":
        return (a, a)
    lo = a - 1
    while lo > 0 and a - lo < 24 and view[lo - 1] not in "、。,.!?！？ 　":
        lo -= 1
    return (lo, a - 1)


def _names(segs: list[_Seg], conf: _Config) -> list[_Item]:
    """Person names, as staff_name where the name is marked as staff's anywhere in the
    call (「山田商事の佐藤でございます」 makes the later 「佐藤が承りました」 staff too; a
    customer's 「木村さん」 is staff once 「担当の木村さん」 was said). A name found
    once is found wherever else it is said, even where the dictionaries miss it."""
    found = _name_mentions(segs, conf)
    staff = {s.view[a:b] for s, a, b, _, role in found if role}
    found += _repeated(segs, found, staff, conf)
    items: list[_Item] = []
    for s, a, b, src, role in found:
        if not role and s.view[a:b] in staff and (
                s.seg.speaker != "agent" or not _honoured(s.view, b, conf)):
            role = True
        kind = "staff_name" if role else "person_name"
        score = {"both": 0.9, "ner": 0.8, "context": 0.75, "rule": 0.7}[src] + (
            0.05 if role else 0)
        items.append(_Item(kind, [(s.idx, a, b)], "ner" if src in ("ner", "both") else "rule",
                           score))
    return items


_Mention = tuple[_Seg, int, int, str, bool | None]  # segment, span, source, staff?
_MAX_KNOWN_NAMES = 50


def _repeated(segs: list[_Seg], found: list[_Mention], staff: set[str], conf: _Config
              ) -> list[_Mention]:
    """Further mentions of staff names and of names GiNZA or context found
    (「黙村さんにも」, 「花子にも」 after 「家内の花子が」)."""
    known = Counter(s.view[a:b] for s, a, b, src, role in found
                    if b - a >= 2 and (role or src != "rule"))
    names = [n for n, _ in known.most_common(_MAX_KNOWN_NAMES)]
    spans: dict[int, list[tuple[int, int]]] = {}
    for s, a, b, _, _ in found:
        spans.setdefault(s.idx, []).append((a, b))
    out: list[_Mention] = []
    for s in segs:
        if not names or len(s.view) > _MORPHOLOGY_MAX_CHARS:
            continue
        covered = _coverage(len(s.view), spans.get(s.idx, ()))
        for name in names:
            at = s.view.find(name)
            while at >= 0:
                if not any(covered[at: at + len(name)]) \
                        and not _company_like(s.view, at, at + len(name), conf):
                    out.append((s, at, at + len(name), "rule", name in staff or None))
                at = s.view.find(name, at + len(name))
    return out


def _name_mentions(segs: list[_Seg], conf: _Config) -> list[_Mention]:
    found: list[_Mention] = []
    for s in segs:
        spans = _person_spans(s, conf)
        roles = [_staff_role(s, a, b, conf) for a, b, _ in spans]
        orgs = [_org_before(s.view, a) for (a, _, _), r in zip(spans, roles, strict=True) if r]
        for (a, b, src), role in zip(spans, roles, strict=True):
            if any(lo <= a and b <= hi for lo, hi in orgs):
                continue  # 「山田小事の佐藤でございます」: 山田小事 is the company, misheard
            found.append((s, a, b, src, role))
    return found


def _wants_ner(s: _Seg, ctx: _Context, conf: _Config) -> bool:
    """GiNZA runs only where a name or address is plausible (it costs ~15 ms a segment)
    and on segments of speech length (a longer one is garbage or a runaway decode)."""
    if len(s.seg.text) > _NER_MAX_CHARS:
        return False
    if any(t.pos[1] == "固有名詞" or (t.pos[0] == "接尾辞" and t.surface in conf.honorifics)
           for t in s.tokens):
        return True
    if ctx.nearest(s.idx, len(s.seg.text)) in ("person_name", "address"):
        return True
    return any(p in s.view for p in conf.staff_after if len(p) > 2)

