"""Names found by context and by reading, and the name-like spans the detector is unsure of.

- After a relation word and の: 「家内の花子が」「息子の太郎が」「担当の木村さん」 — also when
  speech recognition misheard the relation word with a similar reading (「島の花子が」 for
  「妻の花子が」: シマ / ツマ), as long as what follows is a proper noun.
- Before an honorific: 「黙村さん」「きむら様」「ハナコちゃん」 (not 「お客さん」「皆様」).

A span is *certain* when Sudachi tags one of its tokens as a proper noun (or it is
written in katakana, as unknown names are); the detector reports those. The others
(「娘のさくらが」: さくら is a common noun too) are *uncertain*: ``name_candidates``
returns them with the certain ones, so a disclosure package can mask every name-like
span — failing toward masking."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rokuon.engine.analysis.pii.common import (
    _MORPHOLOGY_MAX_CHARS,
    _NAME_CHAR,
    _Config,
    _config,
    _is_katakana,
    _Seg,
    _to_dict,
    _tokens,
    _view,
)
from rokuon.engine.types import Segment

_MAX_NAME_TOKENS = 3
_MAX_NAME_CHARS = 8
_Span = tuple[int, int, bool]  # start, end, certain


@lru_cache(maxsize=256)
def _reading(word: str) -> str:
    from rokuon.text.japanese import tokens

    try:
        return "".join(t.reading for t in tokens(word))
    except Exception:  # noqa: BLE001 - no reading: the word only matches as written
        return ""


def _near(a: str, b: str) -> bool:
    """Readings one edit apart (シマ / ツマ, カナイ / カライ), both of two morae or more."""
    if len(a) < 2 or len(b) < 2 or abs(len(a) - len(b)) > 1:
        return False
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(a, b) <= 1


def _proper(toks: list[Any]) -> bool:
    return any(t.pos[1:2] == ("固有名詞",) for t in toks) or all(
        len(t.surface) >= 2 and all(map(_is_katakana, t.surface)) for t in toks)


def _nouns_after(toks: list[Any], i: int) -> list[Any]:
    """The nouns right after token ``i`` (at most three, touching each other)."""
    out: list[Any] = []
    end = toks[i].end
    for t in toks[i + 1: i + 1 + _MAX_NAME_TOKENS]:
        if t.start != end or t.pos[0] != "名詞" or t.end - toks[i + 1].start > _MAX_NAME_CHARS:
            break
        out.append(t)
        end = t.end
    return out


def _up_to_particle(toks: list[Any], i: int) -> list[Any]:
    """The tokens right after token ``i`` up to the next particle or punctuation (at most
    three, touching, short): after 「息子の」 a name the recogniser broke up — 「剣た」
    for 健太 is a noun and an auxiliary — still reaches to its が."""
    out: list[Any] = []
    end = toks[i].end
    for t in toks[i + 1: i + 1 + _MAX_NAME_TOKENS + 1]:
        if t.start != end or t.pos[0] in ("助詞", "補助記号", "空白") or \
                t.end - toks[i + 1].start > _MAX_NAME_CHARS:
            return out if t.pos[0] == "助詞" else []
        out.append(t)
        end = t.end
    return []


def _nouns_before(toks: list[Any], i: int) -> list[Any]:
    """The nouns right before token ``i`` (at most three, touching, not across の)."""
    out: list[Any] = []
    start = toks[i].start
    for t in reversed(toks[max(0, i - _MAX_NAME_TOKENS): i]):
        if t.end != start or t.pos[0] != "名詞" or toks[i].start - t.start > _MAX_NAME_CHARS:
            break
        out.insert(0, t)
        start = t.start
    return out


def _relative_before(s: _Seg, toks: list[Any], i: int, conf: _Config) -> str | None:
    """'exact' when a relation word ends right before token ``i`` (の), 'reading' when
    the word there sounds like one; None otherwise."""
    before = s.view[max(0, toks[i].start - 8): toks[i].start]
    if any(before.endswith(w) for w in conf.relatives):
        return "exact"
    prev = toks[i - 1] if i > 0 else None
    if prev is None or prev.end != toks[i].start or prev.pos[0] != "名詞":
        return None
    return "reading" if any(_near(prev.reading, _reading(w)) for w in conf.relatives
                            if len(w) <= 3) else None


def context_names(s: _Seg, conf: _Config) -> list[_Span]:
    """(start, end, certain) of the names a segment introduces by context."""
    toks = s.tokens
    if len(s.view) > _MORPHOLOGY_MAX_CHARS:
        return []
    out: list[_Span] = []
    for i, t in enumerate(toks):
        if t.surface == "の" and t.pos[0] == "助詞":
            how = _relative_before(s, toks, i, conf)
            name = _nouns_after(toks, i) if how else []
            if how == "exact":  # a relation word as said: the whole word before the particle
                whole = _up_to_particle(toks, i)
                if len(whole) > len(name) and len(whole) <= _MAX_NAME_TOKENS:
                    name = whole
            certain = bool(name) and _proper(name)
            if name and (certain or how == "exact"):
                out.append((name[0].start, name[-1].end, certain))
        elif t.surface in conf.honorifics and t.pos[0] in ("接尾辞", "名詞") and i > 0:
            name = _nouns_before(toks, i)
            while name and _view(name[0].surface) in conf.not_names | {"お", "ご"}:
                name = name[1:]
            text = s.view[name[0].start: name[-1].end] if name else ""
            if text and text not in conf.not_names and text not in conf.relatives:
                out.append((name[0].start, name[-1].end, _proper(name)))
    return out


def name_candidates(segments: list[Segment], cfg: dict[str, Any], *,
                    known: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every name-like span, for masking where a missed name costs more than a masked
    word (disclosure packages): names by context, Sudachi's person names of any length,
    and every further mention of those and of the ``known`` findings' names. Findings
    of type person_name with ``"uncertain": true`` (source ``context``); the detector's
    own findings are not repeated."""
    from rokuon.engine.analysis.pii.common import _Item

    conf = _config(cfg)
    segs = [_Seg(i, seg, _view(seg.text), _tokens(seg.text)) for i, seg in enumerate(segments)]
    taken: dict[int, list[tuple[int, int]]] = {}
    for f in known or []:
        for part in f.get("chars") or []:
            taken.setdefault(int(part[0]), []).append((int(part[1]), int(part[2])))
    spans: dict[int, list[tuple[int, int]]] = {}
    names: set[str] = set()
    for s in segs:
        by_context = [(a, b) for a, b, _ in context_names(s, conf)]
        tagged = [(t.start, t.end) for t in s.tokens if t.pos[2:3] == ("人名",)]
        spans[s.idx] = by_context + tagged
        names |= {s.view[a:b] for a, b in by_context}
        names |= {s.view[a:b] for a, b in tagged if _NAME_CHAR.search(s.view[a:b])}
    names |= {segs[i].view[a:b] for i, found in taken.items() if i < len(segs)
              for a, b in found}
    names = {n for n in names if len(n) >= 2 and n not in conf.not_names}
    for s in segs:
        for name in names:
            at = s.view.find(name)
            while at >= 0:
                spans[s.idx].append((at, at + len(name)))
                at = s.view.find(name, at + len(name))
    out: list[dict[str, Any]] = []
    for idx, found in spans.items():
        for a, b in sorted(set(found)):
            if any(x <= a and b <= y for x, y in taken.get(idx, ())):
                continue
            taken.setdefault(idx, []).append((a, b))
            item = _Item("person_name", [(idx, a, b)], "context", 0.3)
            out.append({**_to_dict(item, segments), "uncertain": True})
    out.sort(key=lambda f: (f["start"], f["segment"], f["chars"][0][1]))
    return out
