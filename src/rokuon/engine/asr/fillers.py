"""Fillers Whisper heard but spelt as words, written back as fillers.

Whisper base does not leave Japanese fillers out so much as spell them as something
else: えーと comes back as 「Aと」 or 「絵と」, えー as 「A」 or 「絵」, うーん as 「運」, and
あのー loses its long vowel and reads like the demonstrative あの (「あの何か」,
「あの3日」). Fillers are then missing from the filler count, and the stray 「A」 「絵」
「運」 are errors in the transcript. This pass rewrites exactly those spellings, and
only where a filler can stand:

- at the start of a phrase: first word of the segment, after a pause mark (、。？！),
  after a pause of ``PAUSE_S`` between words, or after another filler;
- not where the word is being used as a word: followed by a particle or a suffix
  (絵を, 運が, A社, Aの), and a Latin letter followed by katakana is a name (Aプラン);
- あの → あのー only where the demonstrative cannot be: before a number (あの3日),
  an interrogative (あの何か), a pause, a pause mark or the end of the segment.

The rewritten word keeps its time and probability; a pause mark follows it, as a
person would write it (「えーと、少し確認しますね」). Measured in docs/evaluation.md
(filler counts per party and CER, before/after).
"""

from __future__ import annotations

import re
from dataclasses import replace

from rokuon.engine.asr.words import join_words
from rokuon.engine.types import Segment, Word
from rokuon.text.japanese import has_japanese, tokens

PAUSE_S = 0.15  # a gap this long between two words starts a new phrase
_MARKS = "、。，．,.?？!！…"

# Whisper's spellings of a filler → the filler. One piece, or two pieces joined.
HEARD_AS: dict[str, str] = {
    "A": "えー", "E": "えー", "絵": "えー", "エ": "えー", "へー": "えー",
    "Aと": "えーと", "Eと": "えーと", "絵と": "えーと", "えと": "えーと", "エート": "えーと",
    "エット": "えっと", "運": "うーん", "ウーン": "うーん", "ンー": "んー",
}
# the filler spellings themselves (in any piece split): these only get their pause mark
_FILLERS = {"えー", "えーと", "えっと", "えーっと", "うーん", "あのー", "あー", "んー"}
_NUMERAL = re.compile(r"^[0-9０-９〇一二三四五六七八九十百千万]")
_INTERROGATIVE = ("何", "なに", "なん", "どう", "どこ", "いつ", "どの", "どれ")
_KATAKANA = re.compile(r"^[\u30a1-\u30fa]")
_KANJI = re.compile(r"^[\u3400-\u9fff]")


def _bare(text: str) -> str:
    return text.strip().rstrip(_MARKS)


def _starts_phrase(words: list[Word], i: int, fillers_before: set[int]) -> bool:
    if i == 0:
        return True
    prev = words[i - 1]
    return (prev.text.strip()[-1:] in _MARKS or words[i].start - prev.end >= PAUSE_S
            or (i - 1) in fillers_before)


def _used_as_word(piece: str, rest: str) -> bool:
    """Whether what follows makes the candidate a word of the sentence: the tokenizer
    reads them as one word, a particle or a suffix follows right after it, or katakana
    follows a Latin letter (a name: Aプラン), or a single kanji does (a label: A社)."""
    rest = rest.strip()
    if not rest or rest[0] in _MARKS:
        return False
    if piece[:1].isascii() and _KATAKANA.match(rest):
        return True
    text = piece + rest[:40]
    nxt = next((t for t in tokens(text) if t.end > len(piece) and t.surface.strip()), None)
    if nxt is None:
        return False
    if piece.isascii() and len(nxt.surface) == 1 and _KANJI.match(nxt.surface):
        return True  # a label: A社, B型, C案
    return nxt.start < len(piece) or nxt.pos[0] in ("助詞", "助動詞", "接尾辞")


def _demonstrative_cannot_follow(words: list[Word], i: int) -> bool:
    """あの at ``i`` is a filler: what follows it cannot follow the demonstrative."""
    if words[i].text.strip()[-1:] in _MARKS or i + 1 == len(words):
        return True
    nxt = words[i + 1]
    if nxt.start - words[i].end >= PAUSE_S:
        return True
    t = nxt.text.strip()
    return bool(_NUMERAL.match(t)) or t.startswith(_INTERROGATIVE)


def restore_words(words: list[Word]) -> tuple[list[Word], int]:
    """The words with misspelt fillers rewritten; and how many were."""
    out: list[Word] = []
    fillers_at: set[int] = set()  # indices into ``out``
    n = 0
    i = 0
    while i < len(words):
        w = words[i]
        if _starts_phrase(words, i, fillers_at):
            found = None
            for k in (2, 1):  # the longer spelling first: 「A」「と」 is えーと, not えー + と
                if i + k > len(words):
                    continue
                piece = "".join(_bare(x.text) for x in words[i:i + k])
                if k == 2 and any(x.text.strip()[-1:] in _MARKS for x in words[i:i + 1]):
                    continue
                filler = HEARD_AS.get(piece) or (piece if piece in _FILLERS else None)
                if filler is None and piece == "あの" and \
                        _demonstrative_cannot_follow(words, i + k - 1):
                    filler = "あのー"
                if filler is None:
                    continue
                rest = "".join(x.text for x in words[i + k:])
                if piece in HEARD_AS and _used_as_word(piece, rest):
                    continue
                found = (filler, k)
                break
            if found is not None:
                filler, k = found
                span = words[i:i + k]
                last = span[-1].text.strip()[-1:]
                # its own pause mark, or 、 unless it ends the segment
                mark = last if last in _MARKS else ("" if i + k == len(words) else "、")
                new = Word(filler + mark, span[0].start, span[-1].end,
                           min(x.probability for x in span))
                if new.text != "".join(x.text.strip() for x in span):
                    n += 1
                fillers_at.add(len(out))
                out.append(new)
                i += k
                continue
        out.append(w)
        i += 1
    return out, n


def restore(segments: list[Segment]) -> list[Segment]:
    """Japanese segments with their misspelt fillers rewritten (others unchanged)."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.words or seg.language not in (None, "ja") or not has_japanese(seg.text):
            out.append(seg)
            continue
        words, n = restore_words(seg.words)
        out.append(replace(seg, words=words, text=join_words(words)) if n else seg)
    return out
