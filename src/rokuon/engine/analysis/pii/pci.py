"""Card data by the question as well as the answer (PCI DSS: no card number, expiry or
security code in the clear, whatever form the digits took).

A card question — a card context word (カード番号, 有効期限, セキュリティコード, 裏の3桁 …),
said by either party — opens a *card window*. Every digit said in it, by anyone, in any
spoken form (「8,23 4,67 8,9 12です」 as the recogniser garbled a card, 「12 3」,
「百二十三」, 「いちにさん」, over several segments), is card data of the kind last asked
for, whether or not it forms a valid card number. The window stays open while the
conversation is about the card; it closes at another context word (電話番号, 住所,
お問い合わせ番号 …), when the party who asked moves on (a longer line without digits:
「ありがとうございます。お支払いが完了しました。」), or ``pci_window_s`` after the last
card line."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.pii.common import _Config, _Context, _Item
from rokuon.engine.analysis.pii.spoken import _Chunk, _soft
from rokuon.engine.types import Segment

CARD_KINDS = ("card_number", "card_expiry", "card_cvv")
_ASKER_MOVES_ON = 20  # soft characters in a line of the asker without digits
_SPAN_GAP = 4  # characters between digits of one answer within a segment
_SENTENCE_END = frozenset("。？！?!")
_ASKING = ("お願い", "教えて", "いただけ", "頂け", "ください", "下さい", "?", "でしょうか",
           "ますか", "please", "can i", "may i")
_ANSWER_CHARS = 40  # a line of the other party in a window this short is an answer
ANSWER_CONFIDENCE = 0.45  # below every structural finding: it decides only what is left


_KANJI_DIGIT = frozenset("〇○零一二三四五六七八九十百千")
_NUMBER_WORDS = frozenset("年月日桁番号")


def _wordlike(text: str, c: _Chunk) -> bool:
    """Kanji digits that are part of a word (一郎, 一緒, 三井), not a number said."""
    if not all(ch in _KANJI_DIGIT for ch in text[c.start: c.end]):
        return False
    around = text[c.start - 1: c.start] + text[c.end: c.end + 1]
    return any("\u3400" <= ch <= "\u9fff" and ch not in _NUMBER_WORDS for ch in around)


def _kind_at(ctx: _Context, chunk: _Chunk, open_kind: str | None) -> str | None:
    """The kind of card data a digit chunk is, or None outside a card window: the card
    context word before it in its own segment, else the window's kind."""
    seg_text = ctx.segments[chunk.seg].text
    here = ctx.category_in(seg_text[max(0, chunk.start - 80): chunk.start])
    if here is not None:
        return here if here in CARD_KINDS else None
    return open_kind


def _groups(chunks: list[tuple[_Chunk, str]], view: str) -> list[list[tuple[_Chunk, str]]]:
    """Chunks of one segment grouped into answers (digits close together, one kind)."""
    out: list[list[tuple[_Chunk, str]]] = []
    for c, kind in chunks:
        prev = out[-1][-1] if out else None
        if prev is not None and prev[1] == kind and c.start - prev[0].end <= _SPAN_GAP and \
                not any(ch in _SENTENCE_END for ch in view[prev[0].end: c.start]):
            out[-1].append((c, kind))
        else:
            out.append([(c, kind)])
    return out


def join_groups(kept: list[_Item], lengths: list[int]) -> list[_Item]:
    """The answer pieces that survived overlap resolution, joined again into one finding
    per answer where nothing else lies between them."""
    out: list[_Item] = []
    taken: dict[int, bytearray] = {}
    for it in kept:
        if it.group is None:
            out.append(it)
            for s, a, b in it.parts:
                taken.setdefault(s, bytearray(lengths[s] + 1))[a:b] = b"\x01" * (b - a)
    pieces = sorted((it for it in kept if it.group is not None),
                    key=lambda i: (i.group, i.parts[0]))
    for it in pieces:
        prev = out[-1] if out and out[-1].group is not None else None
        seg, a, b = it.parts[0]
        if prev is not None and prev.group == it.group and prev.parts[-1][0] == seg and \
                not any(taken.get(seg, b"")[prev.parts[-1][2]: a]):
            prev.parts[-1] = (seg, prev.parts[-1][1], b)
        else:
            out.append(_Item(it.type, [(seg, a, b)], it.source, it.confidence, it.hint,
                             it.group))
    for it in out:
        it.group = None
    return out


def card_answers(chunks_by_seg: list[list[_Chunk]], views: list[str],
                 segments: list[Segment], ctx: _Context, conf: _Config,
                 turns: list[tuple[int, str]] | None = None) -> list[_Item]:
    """Every digit said inside a card window, as card data of the window's kind: one
    piece per digit chunk (the pieces of one answer share a group), so a structural
    finding over some of them (a Luhn-valid card, an expiry date) wins there and the
    pieces around it still count; ``join_groups`` joins what is left. ``turns``
    collects (segment, kind) of the answers: the other party's lines in a window."""
    items: list[_Item] = []
    kind: str | None = None
    asker: str | None = None
    last = 0.0
    for idx, seg in enumerate(segments):
        view = views[idx]
        if kind is not None and seg.start - last > conf.pci_window_s:
            kind = None
        chunks = [c for c in chunks_by_seg[idx]
                  if not view.startswith("桁", c.end) and not _wordlike(seg.text, c)]
        here = ctx.category_in(seg.text)
        found: list[tuple[_Chunk, str]] = []
        for c in chunks:
            k = _kind_at(ctx, c, kind)
            if k is not None:
                found.append((c, k))
        if turns is not None and asker is not None and seg.speaker != asker and (
                here is None or (here in CARD_KINDS and found)) and (
                found or (kind is not None and _soft(view) <= _ANSWER_CHARS)):
            turns.append((idx, found[-1][1] if found else kind or "card_number"))
        if here in CARD_KINDS:
            if not found and any(q in view for q in _ASKING):
                asker = seg.speaker  # a question (an answer naming what it is keeps it)
            elif kind is None:
                asker = None
            kind, last = here, seg.end
        elif here is not None:
            kind = None
        elif kind is not None:
            if asker in (None, seg.speaker) and not chunks and _soft(view) > _ASKER_MOVES_ON:
                kind = None
            elif found:
                last = seg.end
        for group in _groups(found, view):
            if group[0][1] == "card_expiry" and sum(len(c.digits) for c, _ in group) < 3:
                continue  # 三月 alone: an expiry has a month and a year
            gid = len(items)
            items += [_Item(k, [(idx, c.start, c.end)], "rule", ANSWER_CONFIDENCE, group=gid)
                      for c, k in group]
    return items


def answer_turns(segments: list[Segment], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines said in answer to a card question (the other party's lines inside a
    card window), whatever the recogniser made of the digits in them — for bleeping
    whole answers in the recording: {"segment", "type", "speaker", "start", "end"}."""
    from rokuon.engine.analysis.pii.common import _config, _view
    from rokuon.engine.analysis.pii.spoken import _chunks

    conf = _config(cfg)
    views = [_view(s.text) for s in segments]
    out: list[tuple[int, str]] = []
    card_answers([_chunks(v, i) for i, v in enumerate(views)], views, segments,
                 _Context(segments, conf), conf, turns=out)
    return [{"segment": i, "type": kind, "speaker": segments[i].speaker,
             "start": segments[i].start, "end": segments[i].end} for i, kind in out]
