"""The detector: every PII type over a call's segments, overlaps resolved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.pii.addresses import _addresses
from rokuon.engine.analysis.pii.common import (
    _PRIORITY,
    NER_MODEL,
    _Config,
    _config,
    _Context,
    _coverage,
    _Item,
    _safe,
    _Seg,
    _to_dict,
    _tokens,
    _view,
)
from rokuon.engine.analysis.pii.dates import _dates
from rokuon.engine.analysis.pii.emails import _emails, _follower
from rokuon.engine.analysis.pii.names import _names, _wants_ner
from rokuon.engine.analysis.pii.ner import _entities, load_ner, ner_error
from rokuon.engine.analysis.pii.numbers import _numbers
from rokuon.engine.analysis.pii.pci import card_answers, join_groups
from rokuon.engine.analysis.pii.spoken import _Chunk, _chunks
from rokuon.engine.types import Segment

# ---------------------------------------------------------------------------------------
# the detector


def _resolve(items: list[_Item], lengths: list[int]) -> list[_Item]:
    """Drop an item overlapping a higher-priority (or same, more confident) one."""
    ranked = sorted(items, key=lambda i: (-_PRIORITY.get(i.type, 0), -i.confidence))
    taken: dict[int, bytearray] = {}
    kept: list[_Item] = []
    for it in ranked:
        marks = [(taken.setdefault(s, bytearray(lengths[s] + 1)), a, b) for s, a, b in it.parts]
        if any(any(m[a:b]) for m, a, b in marks):
            continue
        kept.append(it)
        for m, a, b in marks:
            m[a:b] = b"\x01" * len(m[a:b])
    return kept


def _block(chunks: list[_Chunk], spans: Iterable[tuple[int, int]], n: int) -> None:
    """Digits inside dates, e-mail addresses and addresses are no numbers of their own."""
    covered = _coverage(n, spans)
    for c in chunks:
        if any(covered[c.start: c.end]):
            c.blocked = True


def _ner_enabled(conf: _Config, language: str) -> bool:
    return conf.ner and language.lower().startswith("ja") and bool(
        conf.types & {"person_name", "staff_name", "address"})


def detect(segments: list[Segment], cfg: dict[str, Any], *, language: str = "ja"
           ) -> list[dict[str, Any]]:
    """Personal data in the segments, as findings without values (see the module doc)."""
    conf = _config(cfg)
    ctx = _Context(segments, conf)
    views = [_view(s.text) for s in segments]
    use_ner = _ner_enabled(conf, language) and load_ner() is not None
    email_words = [w for cat, w in conf.context if cat == "email"]
    items: list[_Item] = []
    chunks_by_seg: list[list[_Chunk]] = []
    segs: list[_Seg] = []
    for idx, seg in enumerate(segments):
        view = views[idx]
        nxt = _follower(segments, idx)
        emails = _emails(idx, view, None if nxt is None else (nxt, views[nxt]), email_words)
        dates, date_spans = _dates(idx, view, ctx)
        s = _Seg(idx, seg, view, _tokens(seg.text))
        if use_ner and _wants_ner(s, ctx, conf):
            s.entities = _entities(_safe(seg.text))
        addresses = _addresses(s, ctx)
        chunks = _chunks(view, idx)
        _block(chunks, [*date_spans, *((a, b) for it in emails + addresses
                                       for i, a, b in it.parts if i == idx)], len(view))
        chunks_by_seg.append(chunks)
        segs.append(s)
        items += emails + dates + addresses
    items += _numbers(chunks_by_seg, views, segments, ctx, conf)
    items += card_answers(chunks_by_seg, views, segments, ctx, conf)
    items += _names(segs, conf)
    lengths = [len(v) for v in views]
    kept = [it for it in join_groups(_resolve(items, lengths), lengths)
            if it.type in conf.types]
    out = [_to_dict(it, segments) for it in kept]
    out.sort(key=lambda f: (f["start"], f["segment"], f["chars"][0][1]))
    return out[: conf.max_findings]


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> list[dict[str, Any]]:
    found = detect(inp.segments, cfg, language=inp.language or "ja")
    conf = _config(cfg)
    if _ner_enabled(conf, inp.language or "ja") and ner_error() is not None:
        note = f"pii: names and addresses by rules only ({NER_MODEL} unavailable)"
        if note not in inp.notes:
            inp.notes.append(note)
    return found

