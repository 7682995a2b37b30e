"""Talk metrics per party: talk time and ratio, overlap, interruptions (who cut in on
whom), silence and hold stretches, longest monologue, response latency and speech rate
in morae per minute.

Everything is timed on **tight voice activity**, never on the recogniser's padded VAD:
- stereo: each channel's own activity (``inp.speech``, from ``engine.audio.activity``:
  Silero regions refined by frame energy, no padding);
- mono: each party's word times, trimmed to the activity of the mixed audio
  (``inp.activity``) when the audio was analysed;
- else the segment times.

A party's *turn* is its voiced time with its own pauses shorter than ``pause_bridge_s``
closed, unless another party starts speaking inside the pause. Talk time, silence, hold,
monologues and latencies count turns (a pause between two sentences is talk, as a
listener hears it); overlap counts only the time both parties are actually voiced.
Morae come from Sudachi readings of the transcript (Japanese); other languages get no
mora rate.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from rokuon.engine.analysis.context import CallInput, Span
from rokuon.text.japanese import mora_count

VERSION = 3


def merge(spans: list[Span], gap: float = 0.0) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def total(spans: list[Span]) -> float:
    return sum(e - s for s, e in spans)


def intersect(a: list[Span], b: list[Span]) -> list[Span]:
    i = j = 0
    out: list[Span] = []
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def gaps(spans: list[Span], duration: float) -> list[Span]:
    """Stretches where none of ``spans`` (merged) is active, inside [0, duration]."""
    out: list[Span] = []
    t = 0.0
    for s, e in spans:
        if s > t:
            out.append((t, s))
        t = max(t, e)
    if duration > t:
        out.append((t, duration))
    return out


def _starts_within(starts: list[float], lo: float, hi: float) -> bool:
    i = bisect_left(starts, lo)
    return i < len(starts) and starts[i] < hi


def _within(spans: list[Span], lo: float, hi: float) -> list[Span]:
    """The part of ``spans`` (sorted, merged) inside [lo, hi]."""
    out: list[Span] = []
    i = bisect_right(spans, lo, key=lambda sp: sp[1])
    while i < len(spans) and spans[i][0] < hi:
        out.append((max(lo, spans[i][0]), min(hi, spans[i][1])))
        i += 1
    return out


def turns(own: list[Span], others: list[Span], pause_s: float) -> list[Span]:
    """``own`` speech with its pauses shorter than ``pause_s`` closed, except a pause in
    which another party starts speaking (takes the floor or answers 「はい」); another
    party who only goes on from before into the pause does not split the turn."""
    starts = sorted(s for s, _ in others)
    out: list[Span] = []
    for s, e in merge(own):
        if out and s - out[-1][1] < pause_s and not _starts_within(starts, out[-1][1], s):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def speech_spans(inp: CallInput) -> dict[str, list[Span]]:
    """Per role, where the party is voiced: its channel's activity (stereo), else its
    word spans trimmed to the mixed audio's activity when known, else segment spans."""
    out: dict[str, list[Span]] = {}
    activity = merge(list(inp.activity)) if inp.activity else None
    for role in inp.roles():
        if inp.speech and inp.speech.get(role):
            out[role] = merge(list(inp.speech[role]))
            continue
        # no channel activity (mono, or a channel where none was found although words
        # were transcribed there): the words, trimmed to the mixed audio's activity
        spans: list[Span] = []
        for seg in inp.by_role(role):
            if seg.words:
                spans += [(w.start, w.end) for w in seg.words]
            else:
                spans.append((seg.start, seg.end))
        spans = merge(spans, gap=0.25)
        out[role] = intersect(spans, activity) if activity is not None else spans
    return out


def talk_turns(voiced: dict[str, list[Span]], pause_s: float) -> dict[str, list[Span]]:
    """Each role's turns (see ``turns``), the other roles' voiced time as blockers."""
    return {r: turns(v, merge([x for o, w in voiced.items() if o != r for x in w]), pause_s)
            for r, v in voiced.items()}


def _stretches(spans: list[Span], min_s: float) -> dict[str, Any]:
    long = [(s, e) for s, e in spans if e - s >= min_s]
    return {"total_s": round(total(long), 2),
            "longest_s": round(max((e - s for s, e in long), default=0.0), 2),
            "stretches": [{"start": round(s, 2), "end": round(e, 2)} for s, e in long[:50]]}


def _interruptions(voiced: dict[str, list[Span]], pause_s: float, min_overlap: float,
                   min_turn: float, min_into: float) -> list[dict[str, Any]]:
    """A party cuts in when a turn of theirs (own pauses < ``pause_s`` bridged, so going
    on after a short pause is no new turn; ≥ ``min_turn`` long, so a back-channel
    「はい」 does not count) starts while another party is mid-turn (that party's turn
    began ≥ ``min_into`` earlier and goes on) and both are actually voiced together for
    ≥ ``min_overlap`` before either stops (a turn change where both overlap for a moment
    is not an interruption)."""
    out: list[dict[str, Any]] = []
    own_bridged = {r: merge(v, gap=pause_s) for r, v in voiced.items()}
    for by, own_turns in own_bridged.items():
        for other, other_turns in own_bridged.items():
            if other == by:
                continue
            for s, e in own_turns:
                if e - s < min_turn:
                    continue
                # the other's turn going on at s (the first to end after s)
                i = bisect_right(other_turns, s, key=lambda sp: sp[1])
                if i == len(other_turns) or not other_turns[i][0] + min_into <= s:
                    continue
                end = min(e, other_turns[i][1])
                both = intersect(_within(voiced[by], s, end), _within(voiced[other], s, end))
                if total(both) >= min_overlap:
                    out.append({"by": by, "on": other, "at": round(s, 2)})
    return sorted(out, key=lambda x: x["at"])


def _longest_monologue(own: list[Span], others: list[Span], gap: float) -> float:
    """Longest run of a party's speech, pauses < ``gap`` bridged, that no other party's
    speech of ≥ 1 s interrupts."""
    blockers = [(s, e) for s, e in others if e - s >= 1.0]
    best = 0.0
    run: Span | None = None
    for s, e in own:
        if run is not None and s - run[1] < gap and not any(
                run[1] <= bs < s or (bs < run[1] and be > run[1] + 0.5) for bs, be in blockers):
            run = (run[0], e)
        else:
            run = (s, e)
        best = max(best, run[1] - run[0])
    return best


def _latencies(spans: dict[str, list[Span]], responder: str, max_gap: float) -> list[float]:
    """Seconds from the end of another party's speech to ``responder``'s next start."""
    own = merge(spans.get(responder, []), gap=0.5)
    others = merge([x for r, s in spans.items() if r != responder for x in s], gap=0.5)
    out: list[float] = []
    for _, oe in others:
        nxt = next((s for s, _ in own if s >= oe), None)
        if nxt is None or nxt - oe > max_gap:
            continue
        if any(oe < os_ < nxt for os_, _ in others):  # the other party went on talking
            continue
        out.append(nxt - oe)
    return out


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("metrics", {})
    silence_min = float(c.get("silence_min_s", 2.0))
    hold_min = float(c.get("hold_min_s", 8.0))
    pause_s = float(c.get("pause_bridge_s", 0.8))
    voiced = speech_spans(inp)
    spans = talk_turns(voiced, pause_s)
    duration = max(inp.duration_s, max((e for v in spans.values() for _, e in v), default=0))
    heard = [x for v in spans.values() for x in v]
    if inp.activity:  # mono: voiced audio that no party's words cover is not silence
        heard += list(inp.activity)  # (not bridged: a pause may be a change of speaker)
    quiet = gaps(merge(heard), duration)
    talk = {r: total(v) for r, v in spans.items()}
    everyone = sum(talk.values()) or 1.0
    parts = list(voiced.values())
    overlap = total(merge([x for i, a in enumerate(parts) for b in parts[i + 1:]
                           for x in intersect(a, b)]))
    inter = _interruptions(voiced, pause_s, float(c.get("interrupt_min_overlap_s", 0.3)),
                           float(c.get("interrupt_min_turn_s", 1.0)),
                           float(c.get("interrupt_min_into_turn_s", 0.3)))
    parties: dict[str, dict[str, Any]] = {}
    for role, own in spans.items():
        others = merge([x for r, v in spans.items() if r != role for x in v])
        text = "".join(seg.text for seg in inp.by_role(role))
        mora = mora_count(text) if inp.language in ("ja", None) and text else 0
        lat = _latencies(spans, role, float(c.get("latency_max_s", 10.0)))
        parties[role] = {
            "talk_s": round(talk[role], 2),
            "talk_share": round(talk[role] / everyone, 3),
            "longest_monologue_s": round(_longest_monologue(
                own, others, float(c.get("monologue_gap_s", 2.0))), 2),
            "speech_rate_mora_per_min": round(mora / talk[role] * 60, 1)
            if mora and talk[role] > 1.0 else None,
            "interruptions_made": sum(1 for i in inter if i["by"] == role),
            "response_latency_s": round(sum(lat) / len(lat), 2) if lat else None,
        }
    notes = []
    if len(spans) < 2:
        notes.append("one-sided call: ratio, overlap and interruptions need two parties")
    if not inp.segments:
        notes.append("no speech transcribed")
    agent_s, customer_s = talk.get("agent", 0.0), talk.get("customer", 0.0)
    return {
        "agent_talk_s": round(agent_s, 2),
        "customer_talk_s": round(customer_s, 2),
        "overlap_s": round(overlap, 2),
        "silence_s": round(total(quiet), 2),
        "interruptions": len(inter),
        "talk_ratio": round(agent_s / customer_s, 3) if customer_s else None,
        "agent_speech_rate_mora_per_min": parties.get("agent", {}).get(
            "speech_rate_mora_per_min"),
        "source": "vad" if inp.speech else "words+activity" if inp.activity else "words",
        "parties": parties,
        "interruptions_detail": inter[:100],
        "silence": _stretches(quiet, silence_min),
        "hold": _stretches(quiet, hold_min),
        "notes": notes,
    }
