"""Text sentiment per utterance and per speaker: an offline polarity lexicon matched on
Sudachi dictionary forms through the project's one text normaliser.

What it is
    A hand-made lexicon (``defaults/sentiment.yaml``) of words and phrases that carry
    polarity in contact-centre calls — 困る, 届かない, ひどい, 何度…させる, 解約 on the
    negative side; ありがとう, 助かる, 安心, よかった on the positive side — each with a
    weight. Every utterance is cut into dictionary forms (``lexical_units``), so
    spelling and conjugation variants agree (出来ません / できない, ひどい / 酷い,
    届きません / 届かない). Longest matches win; a cue followed in the same clause by a
    negation (ない/ず/ぬ, possibly after する/できる/いる/ます/つもりは …) flips: positive
    becomes negative, negative becomes *weakly* positive (問題ない > 0,
    解約するつもりはありません ≈ +0.2). Intensifiers just before a cue (とても, 本当に,
    何度も) multiply it. Apology and service formulae (ご迷惑をおかけして, 申し訳,
    お待たせ) are masked; politeness formulae (ありがとうございます) count little, and
    for the agent nothing (scripted politeness is not the customer's mood).
    Utterance score = tanh(sum of cue weights) in [-1, 1]. A speaker's score is the
    mean over their substantive utterances (a cue, or at least ``min_units`` words):
    back-channels like はい do not dilute it. Text without Japanese characters is
    scored with the small English lexicon in the same file.

Limits
    It is a lexicon, not a model: no sarcasm, no irony, no sentiment carried by
    context alone (料金が高い is negative even when said calmly; 高い品質 is misread),
    negation only after the cue and inside one clause, and quality follows the ASR:
    a misrecognised word is a missed cue. Sentiment is not complaint: a polite churn
    call or a refused recording consent can score negative. Use it as one signal
    (complaint.py combines it with lexical complaint cues and voice agitation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rokuon.engine.analysis.context import CallInput
from rokuon.text.japanese import has_japanese
from rokuon.text.normalize import lexical_units, normalize

VERSION = 1
METHOD = "lexicon-v1 (Sudachi dictionary forms, negation-aware)"
DEFAULTS_FILE = Path(__file__).with_name("defaults") / "sentiment.yaml"

Unit = tuple[str, int, int]  # (form, start char, end char)

_LATIN = re.compile(r"[A-Za-z]")
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_GAP = "…"
MAX_UTTERANCES = 2000
MAX_CUES = 20  # quoted cues per utterance (all of them still count in the score)
# an utterance is scored on its first MAX_TEXT_CHARS characters: real segments are far
# shorter, and this bounds the cost of garbage (and stays under Sudachi's ~49 kB input
# limit, which rokuon.text.japanese's 20 000-character slices exceed for kanji text)
MAX_TEXT_CHARS = 4000


@dataclass(frozen=True)
class Entry:
    label: str
    parts: tuple[tuple[str, ...], ...]  # unit sequences; a gap is allowed between parts
    score: float
    kind: str  # "word" | "formula" | "negated"
    negated: float | None = None  # value when negated; None: flip by the lexicon's rule

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass(frozen=True)
class Lexicon:
    english: bool
    entries: tuple[Entry, ...]
    negators: frozenset[str]
    bridge: frozenset[str]
    neg_window: int
    flip_positive: float
    flip_negative: float
    intensifiers: tuple[tuple[str, ...], ...]
    int_factor: float
    int_window: int
    neutral: tuple[tuple[str, ...], ...]
    neutral_surface: tuple[str, ...]
    max_gap: int
    agent_formulae: bool
    agent_ignores: frozenset[str]
    inflection: frozenset[str]


@dataclass
class Scored:
    score: float
    cues: list[str]
    units: int
    japanese: bool


# --- configuration ---------------------------------------------------------------

_default_section: dict[str, Any] | None = None
_compiled: dict[int, tuple[dict[str, Any], Lexicon, Lexicon]] = {}


def _section(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """The ``sentiment`` section of a full analysis config, the section itself, or the
    shipped defaults when neither is given."""
    global _default_section
    if cfg and isinstance(cfg.get("sentiment"), dict):
        return cfg["sentiment"]
    if cfg and isinstance(cfg.get("words"), dict):
        return cfg
    if _default_section is None:
        data = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or {}
        _default_section = data.get("sentiment") or {}
    return _default_section


def _ja_forms(phrase: str) -> tuple[str, ...]:
    return tuple(u[0] for u in lexical_units(phrase))


def _en_forms(phrase: str) -> tuple[str, ...]:
    return tuple(_EN_WORD.findall(_en_text(phrase)))


def _en_text(text: str) -> str:
    return text.replace("\u2019", "'").casefold()


def _values(raw: Any) -> tuple[float, float | None] | None:
    """A lexicon value: ``score`` or ``[score, score when negated]``, clamped to ±1."""
    def clamp(x: Any) -> float:
        return max(-1.0, min(1.0, float(x)))
    try:
        if isinstance(raw, list | tuple):
            return clamp(raw[0]), (clamp(raw[1]) if len(raw) > 1 else None)
        return clamp(raw), None
    except (TypeError, ValueError, IndexError):
        return None


def _entries(mapping: dict[str, Any] | None, kind: str, english: bool) -> list[Entry]:
    forms_of = _en_forms if english else _ja_forms
    out: list[Entry] = []
    for key, raw in (mapping or {}).items():
        values = _values(raw)
        if values is None:
            continue
        variants = [v.strip() for v in str(key).split("|") if v.strip()]
        for variant in variants:
            parts = tuple(p for p in (forms_of(x) for x in variant.split(_GAP)) if p)
            if parts:
                out.append(Entry(variants[0], parts, values[0], kind, values[1]))
    return out


def _compile(sec: dict[str, Any], english: bool) -> Lexicon:
    src = (sec.get("english") or {}) if english else sec
    forms_of = _en_forms if english else _ja_forms
    neg = sec.get("negation") or {}
    ints = sec.get("intensifiers") or {}
    entries = (_entries(src.get("words"), "word", english)
               + _entries(src.get("formulae"), "formula", english)
               + _entries(src.get("when_negated"), "negated", english))
    negators = src.get("negators") if english else neg.get("words")
    int_words = src.get("intensifiers") if english else ints.get("words")
    return Lexicon(
        english=english,
        entries=tuple(entries),
        negators=frozenset(str(w) if english else normalize(str(w))
                           for w in (negators or [])),
        bridge=frozenset(normalize(str(w)) for w in neg.get("bridge") or []),
        neg_window=int(src.get("window", neg.get("window", 7)) if english
                       else neg.get("window", 7)),
        flip_positive=float(neg.get("flip_positive", -1.0)),
        flip_negative=float(neg.get("flip_negative", -0.5)),
        intensifiers=tuple(f for f in (forms_of(str(w)) for w in int_words or []) if f),
        int_factor=float(ints.get("factor", 1.5)),
        int_window=int(ints.get("window", 2)),
        neutral=() if english else tuple(
            f for f in (forms_of(str(w)) for w in sec.get("neutral") or []) if f),
        neutral_surface=() if english else tuple(
            normalize(str(w)) for w in sec.get("neutral_surface") or []),
        max_gap=int(sec.get("max_gap", 4)),
        agent_formulae=bool(sec.get("agent_formulae", False)),
        agent_ignores=frozenset(str(w) for w in sec.get("agent_ignores") or []),
        inflection=frozenset() if english else frozenset(
            normalize(str(w)) for w in sec.get("inflection") or []),
    )


def lexicons(cfg: dict[str, Any] | None) -> tuple[Lexicon, Lexicon]:
    """(Japanese, English) lexicons of a config, compiled once per config object."""
    sec = _section(cfg)
    hit = _compiled.get(id(sec))
    if hit is not None and hit[0] is sec:
        return hit[1], hit[2]
    ja, en = _compile(sec, english=False), _compile(sec, english=True)
    if len(_compiled) > 16:
        _compiled.clear()
    _compiled[id(sec)] = (sec, ja, en)
    return ja, en


# --- matching --------------------------------------------------------------------

def _english_units(text: str) -> list[Unit]:
    return [(m.group(0), m.start(), m.end()) for m in _EN_WORD.finditer(_en_text(text))]


def _clauses(text: str, units: list[Unit]) -> list[int]:
    """Clause number of every unit: punctuation (dropped from the units) between two
    units starts a new clause."""
    out: list[int] = []
    clause = 0
    for k, (_, start, _) in enumerate(units):
        if k and text[units[k - 1][2]: start].strip():
            clause += 1
        out.append(clause)
    return out


def _positions(forms: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, form in enumerate(forms):
        out.setdefault(form, []).append(i)
    return out


def _find(forms: list[str], clauses: list[int], parts: tuple[tuple[str, ...], ...],
          max_gap: int, positions: dict[str, list[int]]) -> list[list[int]]:
    """Unit indices of every occurrence of ``parts`` (parts after the first may follow
    within ``max_gap`` units, in the same clause); ``positions``: where each form is."""
    first = parts[0]
    n0 = len(first)
    hits: list[list[int]] = []
    for i in positions.get(first[0], ()):
        if tuple(forms[i: i + n0]) != first:
            continue
        idx = list(range(i, i + n0))
        for part in parts[1:]:
            idx = _extend(forms, clauses, idx, part, max_gap)
            if not idx:
                break
        if idx:
            hits.append(idx)
    return hits


def _extend(forms: list[str], clauses: list[int], idx: list[int],
            part: tuple[str, ...], max_gap: int) -> list[int]:
    last = idx[-1]
    n = len(part)
    for j in range(last + 1, min(len(forms) - n, last + 1 + max_gap) + 1):
        if clauses[j + n - 1] != clauses[last]:
            return []
        if tuple(forms[j: j + n]) == part:
            return idx + list(range(j, j + n))
    return []


def _masked(text: str, units: list[Unit], clauses: list[int], lex: Lexicon,
            positions: dict[str, list[int]]) -> set[int]:
    """Units inside apology/service formulae (``neutral``, ``neutral_surface``)."""
    forms = [u[0] for u in units]
    out: set[int] = set()
    for phrase in lex.neutral:
        for idx in _find(forms, clauses, (phrase,), 0, positions):
            out.update(idx)
    whole = normalize(text)
    surface_hits = [p for p in lex.neutral_surface if p in whole]
    if surface_hits:
        pieces = [normalize(text[s:e]) for _, s, e in units]
        owner = [k for k, piece in enumerate(pieces) for _ in piece]
        surface = "".join(pieces)
        for phrase in surface_hits:
            for m in re.finditer(re.escape(phrase), surface):
                out.update(owner[m.start(): m.end()])
    return out


def _negated(forms: list[str], clauses: list[int], idx: list[int], masked: set[int],
             lex: Lexicon) -> tuple[bool, int, int]:
    """Whether the cue at ``idx`` is negated, and the first and last unit of the cue
    with its negation (Japanese: negation follows the predicate; English: a negator
    precedes the word)."""
    first, last = idx[0], idx[-1]
    if lex.english:
        for k in range(first - 1, max(-1, first - 1 - lex.neg_window), -1):
            if clauses[k] != clauses[first] or k in masked:
                break
            if forms[k] in lex.negators or forms[k].endswith("n't"):
                return True, k, last
        return False, first, last
    count, end = 0, last
    for k in range(last + 1, min(len(forms), last + 1 + lex.neg_window)):
        if clauses[k] != clauses[last] or k in masked:
            break
        if forms[k] in lex.negators:
            count, end = count + 1, k
        elif forms[k] not in lex.bridge:
            break
    return count % 2 == 1, first, end


def _intensifier(forms: list[str], clauses: list[int], start: int, masked: set[int],
                 lex: Lexicon) -> int | None:
    """First unit index of an intensifier ending just before ``start``, if any."""
    for phrase in lex.intensifiers:
        n = len(phrase)
        for end in range(start, max(n - 1, start - lex.int_window) - 1, -1):
            begin = end - n
            if begin < 0 or clauses[begin] != clauses[start]:
                continue
            if tuple(forms[begin:end]) == phrase and not masked.intersection(
                    range(begin, end)):
                return begin
    return None


def _candidates(forms: list[str], clauses: list[int], masked: set[int], lex: Lexicon,
                positions: dict[str, list[int]]) -> list[tuple[Entry, list[int]]]:
    """Non-overlapping cue matches, longest first, in text order."""
    found: list[tuple[Entry, list[int]]] = []
    for entry in lex.entries:
        for idx in _find(forms, clauses, entry.parts, lex.max_gap, positions):
            if not masked.intersection(idx):
                found.append((entry, idx))
    found.sort(key=lambda c: (-c[0].size, c[1][0]))
    used: set[int] = set()
    chosen: list[tuple[Entry, list[int]]] = []
    for entry, idx in found:
        if used.intersection(idx):
            continue
        used.update(idx)
        chosen.append((entry, idx))
    return sorted(chosen, key=lambda c: c[1][0])


def _cue_value(entry: Entry, negated: bool, intensified: bool, lex: Lexicon) -> float:
    if entry.kind == "formula":
        return entry.score
    if entry.kind == "negated":
        value = entry.score if negated else 0.0
    elif negated and entry.negated is not None:
        value = entry.negated
    elif negated:
        value = entry.score * (lex.flip_positive if entry.score > 0 else lex.flip_negative)
    else:
        value = entry.score
    return value * (lex.int_factor if intensified else 1.0)


def _inflected_end(forms: list[str], clauses: list[int], end: int, lex: Lexicon) -> int:
    """Last unit of the cue's inflection (困っ → 困って), for quoting the cue."""
    limit = min(len(forms) - 1, end + 4)
    while end < limit and clauses[end + 1] == clauses[end] and forms[end + 1] in lex.inflection:
        end += 1
    return end


def _ignored(entry: Entry, speaker: str | None, lex: Lexicon) -> bool:
    if speaker != "agent":
        return False
    return (entry.kind == "formula" and not lex.agent_formulae) or (
        entry.label in lex.agent_ignores)


def _score_units(text: str, units: list[Unit], lex: Lexicon, speaker: str | None
                 ) -> tuple[float, list[str]]:
    forms = [u[0] for u in units]
    clauses = _clauses(text, units)
    positions = _positions(forms)
    masked = _masked(text, units, clauses, lex, positions)
    total = 0.0
    cues: list[str] = []
    for entry, idx in _candidates(forms, clauses, masked, lex, positions):
        if _ignored(entry, speaker, lex):
            continue
        negated, begin, end = (False, idx[0], idx[-1]) if entry.kind == "formula" else (
            _negated(forms, clauses, idx, masked, lex))
        boost = None if entry.kind == "formula" else _intensifier(
            forms, clauses, idx[0], masked, lex)
        value = _cue_value(entry, negated, boost is not None, lex)
        if value == 0.0:
            continue
        total += value
        begin = begin if boost is None else min(begin, boost)
        if len(cues) < MAX_CUES:
            end = _inflected_end(forms, clauses, end, lex)
            cues.append(text[units[begin][1]: units[end][2]])
    return math.tanh(total), cues


def score_utterance(text: str, cfg: dict[str, Any] | None, speaker: str | None = None
                    ) -> Scored:
    """Score, cues, number of lexical units and whether the text was Japanese."""
    text = (text or "")[:MAX_TEXT_CHARS]
    ja, en = lexicons(cfg)
    if has_japanese(text):
        units = lexical_units(text)
        score, cues = _score_units(text, units, ja, speaker)
        return Scored(score, cues, len(units), True)
    if _LATIN.search(text):
        units = _english_units(text)
        score, cues = _score_units(_en_text(text), units, en, speaker)
        return Scored(score, cues, len(units), False)
    return Scored(0.0, [], 0, False)


def score_text(text: str, cfg: dict[str, Any], *, speaker: str | None = None
               ) -> tuple[float, list[str]]:
    """Sentiment of one text in [-1, 1] and the cues that fired (as they appear in the
    text, with their intensifier and negation). ``cfg`` is the analysis config (or its
    ``sentiment`` section; empty → shipped defaults). ``speaker="agent"`` ignores
    politeness formulae."""
    s = score_utterance(text, cfg, speaker)
    return round(s.score, 3), s.cues


# --- call level ------------------------------------------------------------------

def label_of(score: float, thresholds: dict[str, Any]) -> str:
    if score <= float(thresholds.get("negative", -0.15)):
        return "negative"
    if score >= float(thresholds.get("positive", 0.15)):
        return "positive"
    return "neutral"


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _trend(first: float | None, second: float | None, delta: float) -> str:
    if first is None or second is None:
        return "steady"
    if second - first > delta:
        return "improving"
    if first - second > delta:
        return "worsening"
    return "steady"


def role_summary(rows: list[dict[str, Any]], thresholds: dict[str, Any]) -> dict[str, Any]:
    """One speaker's mean, label, halves, trend and lowest point. ``rows`` hold
    segment, start, end, score and substantive for each of the speaker's utterances."""
    counted = [r for r in rows if r["substantive"]]
    score = _mean([r["score"] for r in counted]) or 0.0
    first = second = None
    if counted:
        mid = (min(r["start"] for r in rows) + max(r["end"] for r in rows)) / 2
        first = _mean([r["score"] for r in counted if (r["start"] + r["end"]) / 2 < mid])
        second = _mean([r["score"] for r in counted if (r["start"] + r["end"]) / 2 >= mid])
    low = min(rows, key=lambda r: r["score"]) if rows else None
    return {"score": score, "label": label_of(score, thresholds),
            "trend": _trend(first, second, float(thresholds.get("trend", 0.2))),
            "first_half": first, "second_half": second,
            "min": None if low is None else {"score": low["score"],
                                             "start": low["start"],
                                             "segment": low["segment"]},
            "utterances": len(rows), "counted": len(counted)}


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    sec = _section(cfg)
    thresholds = sec.get("thresholds") or {}
    min_units = int(sec.get("min_units", 4))
    rows: dict[str, list[dict[str, Any]]] = {}
    utterances: list[dict[str, Any]] = []
    japanese = any_text = False
    for i, seg in enumerate(inp.segments):
        s = score_utterance(seg.text, cfg, seg.speaker)
        japanese |= s.japanese
        any_text |= s.units > 0
        score = round(s.score, 3)
        label = label_of(score, thresholds)
        rows.setdefault(seg.speaker, []).append(
            {"segment": i, "start": round(seg.start, 2), "end": round(seg.end, 2),
             "score": score, "substantive": bool(s.cues) or s.units >= min_units})
        if label != "neutral" and len(utterances) < MAX_UTTERANCES:
            utterances.append({"segment": i, "speaker": seg.speaker,
                               "start": round(seg.start, 2), "end": round(seg.end, 2),
                               "score": score, "label": label, "cues": s.cues})
    notes: list[str] = []
    if not any_text:
        notes.append("no text")
    elif not japanese:
        notes.append("no Japanese text: English lexicon used")
    out: dict[str, Any] = {"method": METHOD, "utterances": utterances, "notes": notes}
    for role, role_rows in rows.items():
        out[role] = role_summary(role_rows, thresholds)
    if "customer" not in out:
        out["customer"] = role_summary([], thresholds)
        notes.append("no customer speech")
    return out
