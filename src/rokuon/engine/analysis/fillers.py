"""Filler words per party: counts, rate per minute of the party's own talk time, and
every hit with its time span.

Japanese fillers are found with Sudachi: a token tagged 感動詞 (フィラー or 一般)
whose canonical spelling is in the list (えー+と joined to えーと), and the
ambiguous あの / その / まあ / なんか only when they stand alone — followed by a pause
mark, another filler or the end of the utterance. So 「あのー、書類は」 counts and
「あの書類は」 does not. English fillers are matched as whole words.
"""

from __future__ import annotations

import re
from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.spans import time_span
from rokuon.engine.types import Segment
from rokuon.text.japanese import Token, has_japanese, tokens
from rokuon.text.normalize import normalize

VERSION = 1
_STRETCH = re.compile(r"(?<=[あいうえおんー])[うぅぉおー〜~]+$")


def canonical(word: str) -> str:
    """あのう / あのぉ / あの〜〜 → あのー; えーっと stays; katakana folded to hiragana."""
    w = normalize(word)
    w = re.sub(r"[〜~]+", "ー", w)
    w = re.sub(r"ー+", "ー", w)
    if w not in ("あの", "その") and w.endswith(("う", "ぉ", "ぉー")) and len(w) > 2:
        w = _STRETCH.sub("ー", w)
    if w.startswith(("あの", "その")) and len(w) > 2 and set(w[2:]) <= set("うぉおー"):
        w = w[:2] + "ー"
    return w


def _ja_hits(text: str, words: set[str], standalone: set[str]) -> list[tuple[str, int, int]]:
    toks = [t for t in tokens(text) if t.surface.strip()]
    hits: list[tuple[str, int, int]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt: Token | None = toks[i + 1] if i + 1 < len(toks) else None
        # join with what follows when the joined spelling is a listed filler (えー+と);
        # an ambiguous one (なん+か) only when it stands alone: 「なんか、」 not 「なんか用」
        after: Token | None = toks[i + 2] if i + 2 < len(toks) else None
        if nxt is not None and nxt.start == t.end and \
                canonical(t.surface + nxt.surface) in words and \
                (t.pos[0] == "感動詞" or set(nxt.surface) <= set("うぅぉおー〜~")
                 or (canonical(t.surface + nxt.surface) in standalone
                     and (after is None or after.is_symbol or after.pos[0] == "感動詞"))):
            hits.append((canonical(t.surface + nxt.surface), t.start, nxt.end))
            i += 2
            continue
        c = canonical(t.surface)
        if c in words:
            alone = nxt is None or nxt.is_symbol or nxt.pos[0] == "感動詞"
            if c in standalone and t.pos[0] != "感動詞" and not alone:
                i += 1
                continue
            if t.pos[0] in ("感動詞", "連体詞", "副詞", "代名詞", "接続詞") or alone:
                hits.append((c, t.start, t.end))
        i += 1
    return hits


def _en_hits(text: str, words: list[str]) -> list[tuple[str, int, int]]:
    hits: list[tuple[str, int, int]] = []
    low = text.casefold()
    for w in words:
        for m in re.finditer(r"(?<![a-z'])" + re.escape(w) + r"(?![a-z'])", low):
            hits.append((w, m.start(), m.end()))
    return sorted(hits, key=lambda h: h[1])


def hits_in(seg: Segment, cfg: dict[str, Any]) -> list[tuple[str, int, int]]:
    c = cfg.get("fillers", {})
    if has_japanese(seg.text):
        words = {canonical(w) for w in c.get("ja", [])}
        return _ja_hits(seg.text, words, {canonical(w) for w in c.get("ja_standalone_only", [])})
    return _en_hits(seg.text, [w.casefold() for w in c.get("en", [])])


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    parties = (prior.get("metrics") or {}).get("parties", {})
    out: dict[str, Any] = {}
    for role in inp.roles():
        items: dict[str, int] = {}
        hits: list[dict[str, Any]] = []
        for idx, seg in enumerate(inp.segments):
            if seg.speaker != role:
                continue
            for word, a, b in hits_in(seg, cfg):
                items[word] = items.get(word, 0) + 1
                s, e = time_span(seg, a, b)
                hits.append({"word": word, "start": round(s, 2), "end": round(e, 2),
                             "segment": idx, "chars": [a, b]})
        talk_s = (parties.get(role) or {}).get("talk_s") or sum(
            s.end - s.start for s in inp.by_role(role))
        count = sum(items.values())
        out[role] = {"count": count,
                     "per_min": round(count / talk_s * 60, 2) if talk_s > 0 else 0.0,
                     "items": items, "hits": hits[:500]}
    return out
