"""Tight voice activity: where a channel really carries speech, to the frame.

The recogniser is fed padded voice activity (Silero VAD with faster-whisper's defaults:
0.4 s of padding on each side, pauses under 2 s bridged) so that no syllable is cut off.
Those spans are wrong for metrics: they add up to a second to every turn, swallow the
other party's short replies and turn the padding into overlap. Here Silero VAD (with a
short minimum silence and a small pad) says *where* speech is, and the frame energy
says exactly where it starts and stops: a 10 ms frame is voiced when it is inside a
Silero region and its level is within ``range_db`` of the channel's speech level (and
clearly above its noise floor). Holes shorter than ``hole_s`` (between syllables) are
filled and blips shorter than ``min_s`` dropped. Where the level cannot separate speech
from the background (speech less than ``min_snr_db`` above the noise floor: heavy line
noise, music), Silero alone decides, run without padding.

Pauses inside a turn (between sentences, ≈0.3–0.9 s) are *not* bridged here: that is
a convention of the metrics (``talk_metrics``), not a property of the audio.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rokuon.engine.types import ENGINE_SAMPLE_RATE

Span = tuple[float, float]
FRAME_S = 0.01
_FLOOR_DB = -100.0


@dataclass
class ActivityOptions:
    vad_threshold: float = 0.5  # Silero speech probability
    vad_min_silence_ms: int = 200  # Silero: split its regions at pauses this long
    vad_pad_ms: int = 120  # Silero regions widened by this much as the search window
    range_db: float = 35.0  # voiced = within this of the speech level (95th percentile)
    floor_margin_db: float = 8.0  # …and this much above the noise floor
    min_snr_db: float = 18.0  # below this speech-to-floor ratio the level decides nothing
    hysteresis_db: float = 5.0  # a voiced run extends down to this much below the threshold
    hole_s: float = 0.12  # fill unvoiced holes shorter than this
    min_s: float = 0.05  # drop voiced islands shorter than this
    use_vad: bool = True  # False: energy only (tests, or no Silero available)


def frame_levels(samples: np.ndarray, sample_rate: int = ENGINE_SAMPLE_RATE) -> np.ndarray:
    """RMS level of each 10 ms frame in dB full scale (digital silence = −100)."""
    n = max(1, int(round(FRAME_S * sample_rate)))
    frames = len(samples) // n
    if frames == 0:
        return np.zeros(0, dtype=np.float64)
    x = np.asarray(samples[:frames * n], dtype=np.float64).reshape(frames, n)
    power = np.mean(x * x, axis=1)
    return np.maximum(10.0 * np.log10(power + 1e-12), _FLOOR_DB)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame index runs where ``mask`` is true."""
    if not mask.size:
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _region_mask(regions: list[Span], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for s, e in regions:
        mask[max(0, int(s / FRAME_S)):max(0, int(np.ceil(e / FRAME_S)))] = True
    return mask


def vad_regions(samples: np.ndarray, sample_rate: int = ENGINE_SAMPLE_RATE,
                options: ActivityOptions | None = None) -> list[Span]:
    """Silero VAD (as shipped with faster-whisper) with a short minimum silence and a
    small pad: where speech is, in seconds, edges within a few tens of ms."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    o = options or ActivityOptions()
    chunks = get_speech_timestamps(
        samples, VadOptions(threshold=o.vad_threshold,
                            min_silence_duration_ms=o.vad_min_silence_ms,
                            speech_pad_ms=o.vad_pad_ms), sampling_rate=sample_rate)
    return [(c["start"] / sample_rate, c["end"] / sample_rate) for c in chunks]


def voiced_frames(samples: np.ndarray, sample_rate: int = ENGINE_SAMPLE_RATE,
                  options: ActivityOptions | None = None,
                  regions: list[Span] | None = None) -> np.ndarray:
    """One boolean per 10 ms frame: speech there (before holes are filled). ``regions``:
    where a VAD already found speech (e.g. the recogniser's padded spans); else
    ``vad_regions`` runs (or, with ``use_vad`` off, the whole signal is searched)."""
    o = options or ActivityOptions()
    levels = frame_levels(samples, sample_rate)
    if not levels.size:
        return np.zeros(0, dtype=bool)
    if regions is None and o.use_vad:
        regions = vad_regions(samples, sample_rate, o)
    region = np.ones(levels.size, dtype=bool) if regions is None \
        else _region_mask(regions, levels.size)
    if not region.any():
        return region
    speech_level = float(np.percentile(levels[region], 95))
    # the noise floor where the VAD heard no speech (energy only: the quietest frames);
    # a channel that is speech almost throughout has none to measure (then only
    # ``range_db`` decides)
    outside = levels[~region] if regions is not None else levels
    pct = 20 if regions is not None else 10
    noise_floor = float(np.percentile(outside, pct)) if outside.size >= 0.5 / FRAME_S \
        else _FLOOR_DB
    if speech_level <= _FLOOR_DB + o.floor_margin_db:  # nothing but digital silence
        return np.zeros(levels.size, dtype=bool)
    if speech_level - noise_floor < o.min_snr_db:
        # the level cannot tell speech from the background (loud line noise, music, a
        # tone): Silero alone decides, without padding
        if not o.use_vad:
            return region
        return _region_mask(vad_regions(samples, sample_rate, replace(o, vad_pad_ms=0)),
                            levels.size)
    # hysteresis: a run of frames above the low threshold is voiced when it reaches the
    # high one somewhere (quiet syllables and onsets next to loud ones stay in)
    high = max(speech_level - o.range_db, noise_floor + o.floor_margin_db)
    low = max(speech_level - o.range_db - o.hysteresis_db,
              noise_floor + o.floor_margin_db - o.hysteresis_db)
    strong = region & (levels >= high)
    voiced = np.zeros(levels.size, dtype=bool)
    for s, e in _runs(region & (levels >= low)):
        if strong[s:e].any():
            voiced[s:e] = True
    return voiced


def tight_activity(samples: np.ndarray, sample_rate: int = ENGINE_SAMPLE_RATE,
                   options: ActivityOptions | None = None,
                   regions: list[Span] | None = None) -> list[Span]:
    """Spans (seconds) where ``samples`` carry speech, edges exact to ≈10 ms, no padding.
    ``regions``: speech regions a VAD already found (padded is fine: only the energy
    decides the edges), saving a second Silero pass."""
    o = options or ActivityOptions()
    voiced = voiced_frames(samples, sample_rate, o, regions)
    spans: list[Span] = []
    for s, e in _runs(voiced):
        start, end = s * FRAME_S, e * FRAME_S
        if spans and start - spans[-1][1] < o.hole_s:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [(round(s, 3), round(e, 3)) for s, e in spans if e - s >= o.min_s]


def bridge(spans: list[Span], gap_s: float) -> list[Span]:
    """Spans with pauses shorter than ``gap_s`` closed (sorted, merged)."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s - out[-1][1] < gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
