"""Voice agitation per speaker from prosody: pitch, loudness and speech rate of each
segment compared with the same speaker's own baseline over the call.

What it is
    For every segment of a speaker (at least ``min_segment_s`` long): median f0 of
    the voiced frames (Praat autocorrelation pitch through parselmouth), loudness
    (RMS in dBFS over the voiced frames) and speech rate (morae of the segment text
    by Sudachi readings ÷ segment duration). The speaker's baseline is the median
    of each feature over the call; a segment's z-score is its distance from that
    median in robust spread units (1.4826 × MAD, floored by ``scale_floor`` so an
    even speaker or synthetic audio does not blow tiny changes up). f0 is compared
    in semitones, rate in log units. Score = weighted mean of the *positive*
    z-scores (higher, louder, faster); ``thresholds`` map it to calm / agitated /
    angry, and a speaker's level is the worst level that is sustained (``sustain``).
    Stereo: each role's own channel. Mono: the mixed signal over the role's segment
    times, each trimmed to its longest part not overlapping another speaker's
    segment.

Limits
    Relative, not absolute: a caller who is angry from the first to the last second
    sets an angry baseline and reads calm; the baseline needs a few segments
    (``min_segments``). Loudness follows microphone distance and gain changes as much
    as the voice. Mono audio is noisier (crosstalk, diarisation errors). Speech rate
    depends on ASR segment times and text. Pitch tracking fails on whispering and
    noise (such segments are skipped). Expressive TTS or acted anger may not look
    like real anger. Treat it as one signal next to the words (complaint.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import Segment

VERSION = 1
METHOD = ("prosody-v1 (parselmouth f0, RMS loudness, mora rate; robust z-scores against "
          "the speaker's own median)")
DEFAULTS_FILE = Path(__file__).with_name("defaults") / "agitation.yaml"
LEVELS = ("calm", "agitated", "angry")
FEATURES = ("f0", "loudness", "rate")
_RMS_HALF_WINDOW_S = 0.015
_MAD_TO_SIGMA = 1.4826

Span = tuple[float, float]

_default_section: dict[str, Any] | None = None


def _section(cfg: dict[str, Any] | None) -> dict[str, Any]:
    global _default_section
    if cfg and isinstance(cfg.get("agitation"), dict):
        return cfg["agitation"]
    if cfg and "thresholds" in cfg and "weights" in cfg:
        return cfg
    if _default_section is None:
        data = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or {}
        _default_section = data.get("agitation") or {}
    return _default_section


# --- per-span acoustic features --------------------------------------------------

def _clean(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    return x


def _pitch(x: np.ndarray, sr: int, pitch_cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(frame times in s from the start of ``x``, f0 in Hz with 0 for unvoiced)."""
    import parselmouth

    try:
        pitch = parselmouth.Sound(x, sampling_frequency=sr).to_pitch(
            time_step=float(pitch_cfg.get("time_step_s", 0.01)),
            pitch_floor=float(pitch_cfg.get("floor_hz", 75)),
            pitch_ceiling=float(pitch_cfg.get("ceiling_hz", 600)))
    except parselmouth.PraatError:  # too short for the pitch floor, …
        return np.zeros(0), np.zeros(0)
    return np.asarray(pitch.xs()), np.asarray(pitch.selected_array["frequency"])


def _voiced_loudness_db(x: np.ndarray, sr: int, times: np.ndarray) -> float:
    """RMS level in dBFS of short windows centred on the voiced frames."""
    power = np.concatenate(([0.0], np.cumsum(x * x)))
    half = max(1, int(_RMS_HALF_WINDOW_S * sr))
    centre = np.clip((times * sr).astype(np.int64), 0, len(x))
    lo, hi = np.clip(centre - half, 0, len(x)), np.clip(centre + half, 0, len(x))
    width = np.maximum(hi - lo, 1)
    mean_power = float(np.mean((power[hi] - power[lo]) / width))
    return 10.0 * math.log10(max(mean_power, 1e-12))


def _span_features(samples: np.ndarray, sr: int, span: Span, cfg: dict[str, Any]
                   ) -> dict[str, Any]:
    start, end = span
    max_s = float(cfg.get("max_segment_s", 20.0))
    if end - start > max_s:  # the middle of a very long segment
        mid = (start + end) / 2
        start, end = mid - max_s / 2, mid + max_s / 2
    a = max(0, int(round(start * sr)))
    b = min(len(samples), int(round(end * sr)))
    out: dict[str, Any] = {"start": span[0], "end": span[1], "f0_hz": None,
                           "loudness_db": None, "voiced_s": 0.0}
    if b - a < max(1, int(0.1 * sr)):
        return out
    x = _clean(samples[a:b])
    if float(np.max(np.abs(x))) < 1e-6:
        return out
    times, f0 = _pitch(x, sr, cfg.get("pitch") or {})
    voiced = f0 > 0
    step = float((cfg.get("pitch") or {}).get("time_step_s", 0.01))
    out["voiced_s"] = round(float(voiced.sum()) * step, 3)
    if out["voiced_s"] < float(cfg.get("min_voiced_s", 0.15)):
        return out
    out["f0_hz"] = round(float(np.median(f0[voiced])), 2)
    out["loudness_db"] = round(_voiced_loudness_db(x, sr, times[voiced]), 2)
    return out


def features(samples: np.ndarray, sr: int, spans: list[Span],
             cfg: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per span (seconds): median f0 in Hz over voiced frames, loudness in dBFS (RMS
    over the voiced frames) and voiced seconds; f0/loudness are None when the span
    has too little voiced sound (silence, noise, too short). Speech rate needs the
    text and is added by ``analyze``."""
    sec = _section(cfg)
    return [_span_features(samples, sr, span, sec) for span in spans]


# --- segment selection -----------------------------------------------------------

def _exclusive_span(seg: Segment, others: list[Segment]) -> Span:
    """Longest part of ``seg`` not overlapping any segment of another speaker."""
    pieces = [(seg.start, seg.end)]
    for o in others:
        if o.end <= seg.start or o.start >= seg.end:
            continue
        cut: list[Span] = []
        for a, b in pieces:
            if o.end <= a or o.start >= b:
                cut.append((a, b))
                continue
            if o.start > a:
                cut.append((a, o.start))
            if o.end < b:
                cut.append((o.end, b))
        pieces = cut
    return max(pieces, key=lambda p: p[1] - p[0], default=(seg.start, seg.start))


def _even_sample(items: list[Any], limit: int) -> list[Any]:
    if limit <= 0 or len(items) <= limit:
        return items
    picks = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in picks]


def _role_spans(inp: CallInput, role: str, mono: bool, cfg: dict[str, Any]
                ) -> tuple[list[tuple[int, Segment, Span]], int]:
    """(segment index, segment, span to analyse) for the role, and how many segments
    of the role there were before sampling."""
    min_s = float(cfg.get("min_segment_s", 0.5))
    others = [s for s in inp.segments if s.speaker != role] if mono else []
    chosen: list[tuple[int, Segment, Span]] = []
    for i, seg in enumerate(inp.segments):
        if seg.speaker != role or seg.end - seg.start < min_s:
            continue
        span = _exclusive_span(seg, others) if mono else (seg.start, seg.end)
        if span[1] - span[0] >= min_s:
            chosen.append((i, seg, span))
    return _even_sample(chosen, int(cfg.get("max_segments", 300))), len(chosen)


def _mora_rate(seg: Segment) -> float | None:
    from rokuon.text.japanese import mora_count

    duration = seg.end - seg.start
    text = (seg.text or "")[:2000]
    morae = mora_count(text) if text.strip() else 0
    return morae / duration if morae and duration > 0 else None


# --- baseline, z-scores, levels --------------------------------------------------

@dataclass
class Row:
    index: int
    start: float
    end: float
    values: dict[str, float | None]  # f0 (semitones), loudness (dB), rate (log mora/s)
    f0_hz: float
    loudness_db: float
    rate: float | None


def _robust(values: list[float], floor: float) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    median = float(np.median(arr))
    mad = float(np.median(np.abs(arr - median))) * _MAD_TO_SIGMA
    return median, max(mad, floor)


def _baselines(rows: list[Row], cfg: dict[str, Any]) -> dict[str, tuple[float, float]]:
    floors = cfg.get("scale_floor") or {}
    floor_of = {"f0": float(floors.get("f0_st", 1.5)),
                "loudness": float(floors.get("loudness_db", 2.0)),
                "rate": float(floors.get("rate_log", 0.12))}
    out: dict[str, tuple[float, float]] = {}
    for name in FEATURES:
        vals = [v for r in rows if (v := r.values.get(name)) is not None]
        if vals:
            out[name] = _robust(vals, floor_of[name])
    return out


def _level(score: float, thresholds: dict[str, Any]) -> str:
    if score >= float(thresholds.get("angry", 3.5)):
        return "angry"
    if score >= float(thresholds.get("agitated", 2.0)):
        return "agitated"
    return "calm"


def _score_row(row: Row, base: dict[str, tuple[float, float]], cfg: dict[str, Any]
               ) -> dict[str, Any]:
    weights = cfg.get("weights") or {}
    cap = float(cfg.get("z_cap", 6.0))
    z: dict[str, float | None] = {}
    total = weight_sum = 0.0
    for name in FEATURES:
        value = row.values.get(name)
        if value is None or name not in base:
            z[name] = None
            continue
        median, scale = base[name]
        zi = max(-cap, min(cap, (value - median) / scale))
        z[name] = round(zi, 2)
        w = float(weights.get(name, 0.0))
        total += w * max(zi, 0.0)
        weight_sum += w
    score = round(total / weight_sum, 2) if weight_sum > 0 else 0.0
    return {"start": round(row.start, 2), "end": round(row.end, 2), "segment": row.index,
            "level": _level(score, cfg.get("thresholds") or {}),
            "f0_z": z["f0"], "loudness_z": z["loudness"], "rate_z": z["rate"],
            "score": score}


def _sustained_level(scored: list[dict[str, Any]], cfg: dict[str, Any]) -> str:
    sustain = cfg.get("sustain") or {}
    need_n = int(sustain.get("segments", 2))
    need_s = float(sustain.get("seconds", 6.0))
    for level in reversed(LEVELS[1:]):
        rank = LEVELS.index(level)
        hits = [s for s in scored if LEVELS.index(s["level"]) >= rank]
        if len(hits) >= need_n or sum(s["end"] - s["start"] for s in hits) >= need_s:
            return level
    return "calm"


def _rows(picked: list[tuple[int, Segment, Span]], feats: list[dict[str, Any]]
          ) -> list[Row]:
    rows: list[Row] = []
    for (i, seg, span), f in zip(picked, feats, strict=True):
        if f["f0_hz"] is None:
            continue
        rate = _mora_rate(seg)
        rows.append(Row(i, span[0], span[1], {
            "f0": 12.0 * math.log2(f["f0_hz"] / 100.0),
            "loudness": f["loudness_db"],
            "rate": math.log(rate) if rate else None},
            f["f0_hz"], f["loudness_db"], rate))
    return rows


def _median_or_none(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.median(vals)), 2) if vals else None


def analyze_role(samples: np.ndarray, sr: int, inp: CallInput, role: str, mono: bool,
                 cfg: dict[str, Any]) -> dict[str, Any]:
    """One speaker: level, baseline and episodes (or a reason it cannot say)."""
    picked, total = _role_spans(inp, role, mono, cfg)
    feats = [_span_features(samples, sr, span, cfg) for _, _, span in picked]
    rows = _rows(picked, feats)
    out: dict[str, Any] = {"level": None, "baseline": None, "episodes": [],
                           "segments": len(rows), "sampled": len(picked) < total}
    if len(rows) < int(cfg.get("min_segments", 3)):
        out["reason"] = "no voiced speech" if picked and not rows else "too little speech"
        return out
    base = _baselines(rows, cfg)
    scored = [_score_row(r, base, cfg) for r in rows]
    out["level"] = _sustained_level(scored, cfg)
    out["baseline"] = {"f0_hz": _median_or_none([r.f0_hz for r in rows]),
                       "loudness_db": _median_or_none([r.loudness_db for r in rows]),
                       "mora_per_s": _median_or_none([r.rate for r in rows])}
    out["episodes"] = [s for s in scored if s["level"] != "calm"][
        : int(cfg.get("max_episodes", 200))]
    return out


def _unavailable(reason: str, notes: list[str] | None = None) -> dict[str, Any]:
    return {"available": False, "reason": reason, "method": METHOD, "notes": notes or []}


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    sec = _section(cfg)
    audio = inp.audio or {}
    if not audio or int(inp.sample_rate or 0) <= 0:
        return _unavailable("no audio")
    if not inp.segments:
        return _unavailable("no speech segments")
    mono = "mixed" in audio and not any(r in audio for r in inp.roles())
    notes = ["mono: mixed signal over each speaker's segments, overlaps trimmed; "
             "noisier than stereo"] if mono else []
    out: dict[str, Any] = {"available": False, "reason": None, "method": METHOD,
                           "notes": notes}
    reasons: list[str] = []
    for role in inp.roles():
        samples = audio.get("mixed") if mono else audio.get(role)
        samples = None if samples is None else np.asarray(samples)
        if samples is None or samples.ndim != 1:
            out[role] = {"level": None, "baseline": None, "episodes": [], "segments": 0,
                         "reason": "no audio for this speaker" if samples is None
                         else "audio is not a single channel"}
        else:
            out[role] = analyze_role(samples, int(inp.sample_rate), inp, role, mono, sec)
        if out[role]["level"] is not None:
            out["available"] = True
        else:
            reasons.append(out[role]["reason"])
    if not out["available"]:
        out["reason"] = "no voiced speech" if "no voiced speech" in reasons else (
            reasons[0] if reasons else "too little speech")
    return out
