"""Readings: what a text *sounds like*, so that what speech recognition mishears as a
different spelling still matches — 開約 (カイヤク) is 解約, 「ヨクオンさせていただき」
is 録音させていただき, 「ロコンはやめて」 is 録音はやめて.

- A text's reading is its Sudachi readings (katakana), normalised: hiragana →
  katakana, ー → the vowel it lengthens, オウ → オオ, ヲ → オ, ヂ/ヅ → ジ/ズ.
- Single-kanji fragments (how Sudachi cuts a non-word like 開約 or 開薬) also get
  their Sino-Japanese reading (開 → カイ, 薬 → ヤク): Sudachi reads a lone 開 as the
  verb ヒラケ, which no misheard 解約 sounds like.
- A phrase matches by reading when its reading occurs in the text's reading on word
  boundaries, or — phrases of at least ``fuzzy_min_morae`` morae only — within a
  weighted **mora edit distance** of ``tolerance`` × its morae (a mora differing only
  in consonant or vowel costs 0.5, a dropped long vowel / ン / ッ 0.5, others 1).
- A reading match is kept only when the words that differ from the phrase's are not
  ordinary dictionary words of their own (``guard``): 他者 is not 他社 and 貴社 is
  not 記者, but the out-of-vocabulary ヨクオン or the fragments 開|約 are mishearings;
  and a differing auxiliary (解約しない against 解約したい) or a negation never
  matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rokuon.text.japanese import Token, lookup, tokens
from rokuon.text.normalize import normalize

_HIRA_TO_KATA = {c: chr(c + 0x60) for c in range(0x3041, 0x3097)}
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々]")
_KANA = re.compile(r"^[\u3041-\u309f\u30a0-\u30ff]*$")
_HIRAGANA = re.compile(r"^[\u3041-\u309fー]+$")
_SMALL = set("ァィゥェォャュョヮ")
_LONG = re.compile(r"^[ー〜～]+$")  # a lengthened vowel Sudachi tags as a symbol
_NEGATION = {"ない", "無い", "ぬ", "ず", "ん", "まい"}
_ROWS = {"": "アイウエオ", "k": "カキクケコ", "g": "ガギグゲゴ", "s": "サシスセソ",
         "z": "ザジズゼゾ", "t": "タチツテト", "d": "ダヂヅデド", "n": "ナニヌネノ",
         "h": "ハヒフヘホ", "b": "バビブベボ", "p": "パピプペポ", "m": "マミムメモ",
         "y": "ヤ\0ユ\0ヨ", "r": "ラリルレロ", "w": "ワヰ\0ヱヲ", "v": "\0\0ヴ\0\0"}
_VOWELS = "aiueo"
MAX_FUZZY_MORAE = 3000  # longer texts (no utterance is) match exact readings only
_SOUND: dict[str, tuple[str, str]] = {
    ch: (cons, _VOWELS[i]) for cons, row in _ROWS.items() for i, ch in enumerate(row)
    if ch != "\0"}
_SOUND.update({"ァ": ("", "a"), "ィ": ("", "i"), "ゥ": ("", "u"), "ェ": ("", "e"),
               "ォ": ("", "o"), "ン": ("N", ""), "ッ": ("Q", "")})
_GLIDE = {"ャ": "a", "ュ": "u", "ョ": "o"}
_VOICING = {"g": "k", "z": "s", "d": "t", "b": "h", "p": "h", "v": "b"}
_FOLD = str.maketrans({"ヲ": "オ", "ヂ": "ジ", "ヅ": "ズ", "ヮ": "ワ"})


def to_katakana(text: str) -> str:
    return text.translate(_HIRA_TO_KATA)


def normalize_reading(reading: str) -> str:
    """One spelling per sound: ロクオン, ろくおん, トーキョー and トウキョウ (as
    トオキョオ) each have one form."""
    kata = to_katakana(normalize(reading, fold_kana=False)).translate(_FOLD)
    out: list[str] = []
    for ch in kata:
        vowel = _vowel(out[-1]) if out else ""
        if ch == "ー" and vowel:
            ch = "アイウエオ"[_VOWELS.index(vowel)]
        elif ch == "ウ" and vowel == "o":
            ch = "オ"
        out.append(ch)
    return "".join(out)


def _vowel(ch: str) -> str:
    if ch in _GLIDE:
        return _GLIDE[ch]
    sound = _SOUND.get(ch)
    return sound[1] if sound else ""


def morae(reading: str) -> list[str]:
    """A normalised reading cut into morae: キャ, ン, ッ, オ… (small ャュョァ… join the
    kana before them)."""
    out: list[str] = []
    for ch in reading:
        if ch in _SMALL and out and out[-1][-1] not in _SMALL:
            out[-1] += ch
        else:
            out.append(ch)
    return out


@lru_cache(maxsize=512)
def _phones(mora: str) -> tuple[str, str]:
    """(consonant, vowel) of a mora: キャ → (ky, a); シ → (s, i); ン → (N, '')."""
    base = _SOUND.get(mora[0])
    if base is None:
        return (mora, "")
    if len(mora) > 1:
        glide = mora[1]
        if glide in _GLIDE:
            return (base[0] + "y", _GLIDE[glide])
        small = _SOUND.get(glide)
        if small is not None:
            return (base[0] or "w", small[1])
    return base


def _similar_consonant(a: str, b: str) -> bool:
    a0, b0 = a.rstrip("y") or a, b.rstrip("y") or b
    return a0 == b0 or _VOICING.get(a0, a0) == _VOICING.get(b0, b0)


@lru_cache(maxsize=65536)
def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    (ca, va), (cb, vb) = _phones(a), _phones(b)
    if va and vb and (va == vb or _similar_consonant(ca, cb)):
        return 0.5
    return 1.0


@lru_cache(maxsize=512)
def indel_cost(m: str) -> float:
    """A long vowel, ン or ッ is easily lost or invented: half a mora."""
    c, v = _phones(m)
    return 0.5 if (c == "" and v) or c in ("N", "Q") else 1.0


def mora_distance(a: list[str], b: list[str]) -> float:
    """Weighted edit distance between two mora sequences (whole against whole)."""
    prev = [0.0]
    for m in b:
        prev.append(prev[-1] + indel_cost(m))
    for x in a:
        cur = [prev[0] + indel_cost(x)]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j - 1] + substitution_cost(x, y), prev[j] + indel_cost(x),
                           cur[j - 1] + indel_cost(y)))
        prev = cur
    return prev[-1]


def best_window(phrase: list[str], text: list[str]) -> tuple[float, int, int]:
    """The stretch text[i:j] closest to the whole phrase: (cost, i, j). Free ends in
    the text (semi-global alignment), O(len(phrase) · len(text))."""
    n = len(text)
    prev = [0.0] * (n + 1)
    start = list(range(n + 1))
    for x in phrase:
        dx = indel_cost(x)
        cur = [prev[0] + dx]
        cst = [0]
        for j in range(1, n + 1):
            y = text[j - 1]
            best, s = prev[j - 1] + substitution_cost(x, y), start[j - 1]
            v = prev[j] + dx
            if v < best:
                best, s = v, start[j]
            v = cur[j - 1] + indel_cost(y)
            if v < best:
                best, s = v, cst[j - 1]
            cur.append(best)
            cst.append(s)
        prev, start = cur, cst
    j = min(range(n + 1), key=lambda k: (prev[k], k))
    return prev[j], start[j], j


@dataclass(frozen=True)
class Word:
    """A token of the text with everything the matcher needs about it."""
    token: Token
    reading: str  # normalised reading
    form: str  # normalised dictionary form
    # an ordinary word of its own (他者, 保存, 聞い, メール) — not what a mishearing
    # leaves: out of vocabulary (ヨクオン), a kanji cut out of a non-word (開|約し), a
    # noun spelt in hiragana (かいやく)
    real: bool = True


_ON_END = set("ンウイクキツチ")


def _on_like(r: str) -> bool:
    """Shaped like a Sino-Japanese reading: one mora, or two ending in ン ウ イ ク キ ツ
    チ (カイ, ヤク, オン, シャ — not ヒラケ, クスリ)."""
    m = morae(normalize_reading(r))
    return len(m) == 1 or (len(m) == 2 and m[1] in _ON_END)


@lru_cache(maxsize=4096)
def _sino(kanji: str, primary: str) -> str:
    """The kanji's Sino-Japanese reading, as it would sound inside a compound: an
    affix entry's, else ``primary`` if it is one, else the first common-noun reading
    shaped like one (開: ヒラケ → カイ; 薬: クスリ → ヤク; 社 stays シャ)."""
    entries = lookup(kanji)
    affix = [r for r, pos in entries if pos[0] in ("接尾辞", "接頭辞") and _on_like(r)]
    if affix:
        return affix[0]
    if _on_like(primary):
        return primary
    nouns = [r for r, pos in entries if pos[:2] == ("名詞", "普通名詞") and _on_like(r)]
    return nouns[0] if nouns else primary


def _fragment(t: Token) -> bool:
    """One kanji plus kana: how Sudachi cuts a non-word such as 開約 (開|約し)."""
    return len(t.surface) >= 1 and bool(_KANJI.match(t.surface)) and bool(
        _KANA.match(t.surface[1:]))


@dataclass(frozen=True)
class Variant:
    """One way to read the text: morae, and per mora its word, whether a unit (word,
    or the kanji / kana part of a fragment) starts there, and that unit's characters."""
    morae: tuple[str, ...]
    owner: tuple[int, ...]
    starts: tuple[bool, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Reading:
    words: tuple[Word, ...]
    variants: tuple[Variant, ...]

    def text_reading(self) -> str:
        """What the search index stores: the reading, and the Sino-Japanese variant
        after 「・」 when it differs (a query cannot match across the two)."""
        return "・".join("".join(v.morae) for v in self.variants)


def _units(t: Token, primary: str, sino_ok: bool) -> list[tuple[str, int, int]]:
    """(reading, start char, end char) units of a token; a fragment in a kanji run
    reads its kanji the Sino-Japanese way, its kana as written."""
    if not sino_ok:
        return [(primary, t.start, t.end)]
    tail = normalize_reading(t.surface[1:])
    head = normalize_reading(_sino(t.surface[0], primary[: len(primary) - len(tail)]))
    units = [(head, t.start, t.start + 1)]
    if tail:
        units.append((tail, t.start + 1, t.end))
    return units


@lru_cache(maxsize=8192)
def reading(text: str) -> Reading:
    toks = [t for t in tokens(text) if t.surface.strip() and (
        not t.is_symbol or _LONG.match(t.surface))]
    frag = [_fragment(t) for t in toks]
    run = [f and ((i > 0 and bool(_KANJI.search(toks[i - 1].surface[-1:])))
                  or (i + 1 < len(toks) and bool(_KANJI.match(toks[i + 1].surface))))
           for i, f in enumerate(frag)]
    word_list: list[Word] = []
    for i, t in enumerate(toks):
        # with the previous word's last kana, so ー (and オウ) read across words
        before = word_list[-1].reading[-1:] if word_list else ""
        r = normalize_reading(before + (t.reading or t.surface))[len(before):]
        kana_noun = bool(_HIRAGANA.match(t.surface)) and t.pos[0] == "名詞"
        word_list.append(Word(t, r, normalize(t.normal),
                              real=not (t.oov or run[i] or kana_noun)))
    words = tuple(word_list)
    variants: list[Variant] = []
    for sino in (False, True):
        if sino and not any(run):
            break
        ms: list[str] = []
        owner: list[int] = []
        starts: list[bool] = []
        spans: list[tuple[int, int]] = []
        for i, (t, w) in enumerate(zip(toks, words, strict=True)):
            for r, a, b in _units(t, w.reading, sino and run[i]):
                for k, m in enumerate(morae(r)):
                    ms.append(m)
                    owner.append(i)
                    starts.append(k == 0)
                    spans.append((a, b))
        v = Variant(tuple(ms), tuple(owner), tuple(starts), tuple(spans))
        if not variants or v.morae != variants[0].morae:
            variants.append(v)
    return Reading(words, tuple(variants))


def phrase_morae(phrase: str) -> tuple[str, ...]:
    r = reading(phrase)
    return r.variants[0].morae if r.variants else ()


@dataclass(frozen=True)
class ReadingHit:
    start: int  # character offsets into the text
    end: int
    distance: float  # weighted mora edit distance (0: same reading)


def _accept(text_words: list[Word], phrase: Reading, spelling: bool) -> bool:
    """The homophone / polarity guard: among the words that differ from the phrase's,
    one at least must look like a mishearing (out of vocabulary, a kanji fragment, a
    kana spelling) — if they all are ordinary words of their own (他者 for 他社,
    保存 for 録音), it is another word, not a mishearing; and no auxiliary or negation
    may differ (解約しない is not 解約したい)."""
    forms = {w.form for w in phrase.words}
    text_forms = {w.form for w in text_words}
    differing = [w for w in text_words if w.form not in forms]
    missing = [w for w in phrase.words if w.form not in text_forms]
    for w in differing + missing:  # たい / ない, ます / ました, ますか / ませんか
        if w.token.normal in _NEGATION or w.form in _NEGATION:
            return False
        if w.token.pos[:2] == ("感動詞", "フィラー"):  # えー is no ええ
            return False
        if w.token.pos[0] == "助動詞" and not w.token.oov:
            return False
    if not differing:
        return True
    spelt = {w.reading for w in missing}  # ロクオン: 録音 in katakana
    if not all(w.real and not (w.reading in spelt and not _KANJI.search(w.token.surface))
               for w in differing):
        return True
    # the text says other real words: a match only for a query that is itself a
    # spelling rather than words (a search for かいやく or the misspelling 開約)
    return spelling and any(not w.real or not _KANJI.search(w.token.surface)
                            for w in phrase.words if w.form not in text_forms)


def find(text: str, phrase: str, *, fuzzy_min_morae: int = 6, tolerance: float = 0.15,
         guard: bool = True, spelling: bool = False) -> list[ReadingHit]:
    """Where ``phrase`` occurs in ``text`` by reading: every exact occurrence on unit
    boundaries, else (long phrases) the one closest stretch within the tolerance.
    ``spelling``: the phrase is a search query that may itself be a kana spelling or
    a misspelling, so real words in the text that sound like it match (the guard
    still refuses homophones of a query that is a real word: 他社 ≠ 他者)."""
    pm = list(phrase_morae(phrase))
    n = len(pm)
    if n == 0 or not text:
        return []
    pr, tr = reading(phrase), reading(text)
    hits: dict[tuple[int, int], ReadingHit] = {}
    for v in tr.variants:
        ms, size = v.morae, len(v.morae)
        for i in range(size - n + 1):
            if not v.starts[i] or (i + n < size and not v.starts[i + n]):
                continue  # not on unit boundaries: キカイ|ヤクソク is not カイヤク
            if list(ms[i: i + n]) == pm:
                _add(hits, tr, v, i, i + n, 0.0, pr, guard, spelling)
    if hits or n < fuzzy_min_morae:
        return sorted(hits.values(), key=lambda h: (h.start, -h.end))
    limit = tolerance * n
    for v in tr.variants:
        ms = list(v.morae)
        if len(ms) < n / 2 or len(ms) > MAX_FUZZY_MORAE or not _plausible(pm, ms, limit):
            continue
        cost, i, j = best_window(pm, ms)
        if cost <= limit + 1e-9 and j > i:
            _add(hits, tr, v, i, j, cost, pr, guard, spelling)
    return sorted(hits.values(), key=lambda h: h.distance)[:1]


def _plausible(pm: list[str], tm: list[str], limit: float) -> bool:
    """Cheap bound before the alignment: enough of the phrase's morae occur in the
    text at all (each missing mora costs at least 0.5)."""
    have = set(tm)
    missing = sum(0.5 for m in pm if m not in have)
    return missing <= limit


def _add(hits: dict[tuple[int, int], ReadingHit], tr: Reading, v: Variant, i: int,
         j: int, cost: float, phrase: Reading, guard: bool, spelling: bool) -> None:
    """Record text morae [i, j) as a hit (snapped to whole units), unless guarded."""
    words = list(tr.words[v.owner[i]: v.owner[j - 1] + 1])
    if guard and not _accept(words, phrase, spelling):
        return
    key = (v.spans[i][0], v.spans[j - 1][1])
    old = hits.get(key)
    if old is None or cost < old.distance:
        hits[key] = ReadingHit(key[0], key[1], round(cost, 2))
