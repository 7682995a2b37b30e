"""Sanity checks of the generated corpus (no TTS needed: numpy + soundfile).

    python scripts/corpus/check.py [--calls tests/data/calls]

For every call: the JSON files parse and have the documented keys; both WAVs are
8 kHz G.711 mu-law (stereo: 2 channels, mono: 1) and as long as truth's
duration_s; every utterance has energy in its own channel at its start, middle
and end, and the other channel is silent there (except inside recorded
overlaps); outside all utterances both channels are silent; turn gaps are
0.3-1.0 s unless an overlap or a hold is recorded; labels agree with the
utterances (announced_at, pii_types, fillers); card numbers pass Luhn, My Numbers
their check digit; the optional label lists (ng_words, good_words, competitors,
requests) are said where they should be. The harder calls (25 on) also get:
speakers = distinct talkers, refused agrees with the consent tags, every
interruption is a real cut-in (≥ 0.3 s of overlap, ≥ 0.3 s into the other's turn)
inside a recorded overlap, hold music is sound throughout its span and only on its
channels; on a degraded line (truth "degradation") the digital-silence checks give
way to: every packet-loss gap is digital zero, gaps are 20-60 ms at about the
stated rate, and the SNR measured from the noise floor matches the stated one.
Exits 1 and lists the problems if any check fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from luhn import luhn_ok  # noqa: E402
from mynumber import my_number_ok  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SR = 8000
FRAME = 0.02  # seconds per energy frame
SPEECH_DB = -45.0  # frame RMS (dBFS) that counts as sound; mu-law digital silence is far below
TRUTH_KEYS = {"call_id", "title", "duration_s", "sample_rate", "stereo_channels", "voices",
              "labels", "utterances"}
OPTIONAL_TRUTH_KEYS = {"degradation"}
LABEL_KEYS = {"direction", "announced", "announced_at", "consent", "complaint", "abusive",
              "churn", "pii_types", "fillers", "hold_s", "overlaps"}
# optional per-call lists: NG / GOOD phrases the agent says, competitor names and
# customer 要望 (each a substring of an utterance tagged competitor / request)
OPTIONAL_LABEL_KEYS = {"ng_words", "good_words", "competitors", "requests",
                       # calls 25 on: distinct talkers, objection to recording, cut-ins,
                       # non-speech sound during a hold
                       "speakers", "refused", "interruptions", "hold_audio"}
UTTERANCE_KEYS = {"speaker", "start", "end", "text", "tags", "pii"}
# optional per utterance: a second talker on a channel, its voice, language, TTS speed
OPTIONAL_UTTERANCE_KEYS = {"person", "voice", "language", "speed"}
META_KEYS = {"external_id", "agent", "customer_number", "direction", "started_at", "queue",
             "purposes"}
CONSENT = {"yes", "no", "refused", "not_asked", "not_answered"}


def frame_db(x: np.ndarray) -> np.ndarray:
    n = int(FRAME * SR)
    m = len(x) // n
    rms = np.sqrt((x[: m * n].reshape(m, n) ** 2).mean(axis=1) + 1e-12)
    return np.asarray(20 * np.log10(rms))


def peak(x: np.ndarray, t0: float, t1: float) -> float:
    seg = x[max(0, int(round(t0 * SR))): max(0, int(round(t1 * SR)))]
    return float(np.abs(seg).max()) if len(seg) else 0.0


def covered(n: int, spans: list[list[float]], pad: float) -> np.ndarray:
    mask = np.zeros(n, bool)
    for s0, s1 in spans:
        mask[max(0, int((s0 - pad) * SR)): int((s1 + pad) * SR)] = True
    return mask


def check_degradation(x: dict[str, np.ndarray], utts: list[dict[str, Any]],
                      deg: dict[str, Any]) -> list[str]:
    """Packet-loss gaps are digital zero, 20-60 ms, about the stated rate; the SNR
    measured (speech power over the noise floor outside speech and gaps) matches."""
    errs: list[str] = []
    loss = deg["packet_loss"]
    for who, y in x.items():
        gaps = loss["gaps"][who]
        spans = [[u["start"], u["end"]] for u in utts if u["speaker"] == who]
        if not spans:
            continue
        for g0, g1 in gaps:
            seg = y[int(round(g0 * SR)): int(round(g1 * SR))]
            if not 0.019 <= g1 - g0 <= 0.061 or np.abs(seg).max() > 1e-6:
                errs.append(f"{who}: packet-loss gap {g0}-{g1} not 20-60 ms of zeros")
        lost = sum(g1 - g0 for g0, g1 in gaps) / (len(y) / SR)
        if abs(lost - loss["rate"]) > 0.35 * loss["rate"]:
            errs.append(f"{who}: packet loss {lost:.3f} vs stated {loss['rate']}")
        gap_mask = covered(len(y), gaps, 0.0)
        speech = covered(len(y), spans, 0.0) & ~gap_mask
        floor = ~covered(len(y), spans, 0.05) & ~gap_mask
        p_s, p_n = float((y[speech] ** 2).mean()), float((y[floor] ** 2).mean())
        snr = 10 * np.log10(max(p_s - p_n, 1e-12) / p_n)
        if abs(snr - deg["noise"]["snr_db"]) > 1.5:
            errs.append(f"{who}: SNR {snr:.1f} dB vs stated {deg['noise']['snr_db']}")
    return errs


def check_call(d: Path) -> list[str]:
    errs: list[str] = []
    truth: dict[str, Any] = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    meta: dict[str, Any] = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    lab = truth["labels"]
    utts = truth["utterances"]
    if set(truth) - OPTIONAL_TRUTH_KEYS != TRUTH_KEYS:
        errs.append(f"truth keys {sorted((set(truth) - OPTIONAL_TRUTH_KEYS) ^ TRUTH_KEYS)}")
    for k, u in enumerate(utts):
        if set(u) - OPTIONAL_UTTERANCE_KEYS != UTTERANCE_KEYS:
            errs.append(f"utt {k}: keys {sorted(set(u) ^ UTTERANCE_KEYS)}")
        if u.get("language", "ja") not in ("ja", "en"):
            errs.append(f"utt {k}: language {u['language']!r}")
    if set(lab) - OPTIONAL_LABEL_KEYS != LABEL_KEYS:
        errs.append(f"label keys {sorted((set(lab) - OPTIONAL_LABEL_KEYS) ^ LABEL_KEYS)}")
    if set(meta) != META_KEYS:
        errs.append(f"meta keys {sorted(set(meta) ^ META_KEYS)}")
    if truth["call_id"] != d.name or meta["direction"] != lab["direction"]:
        errs.append("call_id / direction mismatch")
    if lab["consent"] not in CONSENT:
        errs.append(f"consent {lab['consent']!r}")

    for name, chans in (("stereo.wav", 2), ("mono.wav", 1)):
        info = sf.info(str(d / name))
        if (info.samplerate, info.channels, info.subtype) != (SR, chans, "ULAW"):
            errs.append(f"{name}: {info.samplerate} Hz, {info.channels} ch, {info.subtype}")
        if abs(info.duration - truth["duration_s"]) > 0.01:
            errs.append(f"{name}: {info.duration:.2f} s vs truth {truth['duration_s']}")
    stereo, _ = sf.read(str(d / "stereo.wav"), dtype="float64", always_2d=True)
    mono, _ = sf.read(str(d / "mono.wav"), dtype="float64")
    if np.abs(mono).max() >= 0.99:
        errs.append("mono.wav clips")
    x = {"agent": stereo[:, 0], "customer": stereo[:, 1]}
    other = {"agent": "customer", "customer": "agent"}
    overlaps = lab["overlaps"]
    deg = truth.get("degradation")
    clean = deg is None  # a degraded line has noise everywhere: no digital silence to test
    hold_audio = lab.get("hold_audio", [])
    if deg is not None:
        errs += check_degradation(x, utts, deg)
    own_spans = {w: [[u["start"], u["end"]] for u in utts if u["speaker"] == w] for w in x}

    for k, u in enumerate(utts):
        s, e, who = u["start"], u["end"], u["speaker"]
        y = x[who]
        tag = f"utt {k} ({who} {s}-{e})"
        # exact bounds: sound right inside the span, digital silence right outside it
        # (5 ms tolerance: times are rounded to 10 ms)
        if clean and (peak(y, s, s + 0.03) < 0.003 or peak(y, e - 0.03, e) < 0.003):
            errs.append(f"{tag}: no sound at the very start or end of the span")
        prev_own = [q for q in own_spans[who] if q[1] <= s and q != [s, e]]
        next_own = [q for q in own_spans[who] if q[0] >= e and q != [s, e]]
        lo = max([s - 0.3] + [q[1] + 0.006 for q in prev_own])
        hi = min([e + 0.3] + [q[0] - 0.006 for q in next_own])
        if clean and (peak(y, lo, s - 0.006) > 1e-3 or peak(y, e + 0.006, hi) > 1e-3):
            errs.append(f"{tag}: own channel not silent right outside the span")
        db = frame_db(y[int(s * SR): int(e * SR)])
        if (db > SPEECH_DB).mean() < 0.5:
            errs.append(f"{tag}: less than half of the span is audible")
        # the other channel is silent during this utterance except in recorded overlaps
        z = x[other[who]][int(s * SR): int(e * SR)]
        loud = np.flatnonzero(np.abs(z) > 1e-3)
        if len(loud) and clean:
            ok = covered(len(x[who]), overlaps, 0.006)[loud + int(s * SR)]
            if not ok.all():
                errs.append(f"{tag}: other channel has sound at {s + loud[~ok][0] / SR:.2f}")
        if k:
            prev_end = max(q["end"] for q in utts[:k])
            gap = s - prev_end
            hold = any(abs(h[0] - utts[k - 1]["end"]) < 0.02 for h in lab["hold_s"])
            if gap < 0 and not any(abs(o[0] - s) < 0.02 for o in overlaps):
                errs.append(f"{tag}: overlap {gap:.2f} s not recorded")
            if gap >= 0 and not hold and not 0.29 <= gap <= 1.01:
                errs.append(f"{tag}: gap {gap:.2f} s outside 0.3-1.0")
        for p in u["pii"]:
            if p["type"] == "card_number" and not luhn_ok(p["value"]):
                errs.append(f"{tag}: card number fails Luhn")
            if p["type"] == "my_number" and not my_number_ok(p["value"]):
                errs.append(f"{tag}: My Number fails its check digit")
            if p["text"] not in u["text"]:
                errs.append(f"{tag}: pii text {p['text']!r} not in the utterance")

    # digital silence outside every utterance, in both channels
    spans = [[u["start"], u["end"]] for u in utts]
    for who, y in x.items():
        outside = ~covered(len(y), spans, 0.006)
        outside &= ~covered(len(y), [[h["start"], h["end"]] for h in hold_audio
                                     if who in h["channels"]], 0.006)
        loud = np.flatnonzero(outside & (np.abs(y) > 1e-3))
        if len(loud) and clean:
            errs.append(f"sound in the {who} channel at {loud[0] / SR:.2f} outside every "
                        "utterance")
    for h0, h1 in lab["hold_s"]:
        # silence on both channels, except the hold music recorded in hold_audio
        quiet = [y.copy() for y in x.values()]
        for q, who in zip(quiet, x, strict=True):
            for h in hold_audio:
                if who in h["channels"]:
                    q[int(h["start"] * SR): int(h["end"] * SR) + 1] = 0
        if not 8 <= h1 - h0 <= 40 or max(peak(q, h0 + 0.01, h1 - 0.01) for q in quiet) > 0:
            errs.append(f"hold {h0}-{h1}: not 8-40 s of silence (besides hold music)")
    for h in hold_audio:
        inside = any(h0 <= h["start"] < h["end"] <= h1 for h0, h1 in lab["hold_s"])
        for who in h["channels"]:
            db = frame_db(x[who][int(h["start"] * SR): int(h["end"] * SR)])
            if not inside or (db > SPEECH_DB).mean() < 0.99:
                errs.append(f"hold audio {h['start']}-{h['end']} on {who}: not sound "
                            "throughout a recorded hold")
    for o0, o1 in overlaps:
        if not 0.15 <= o1 - o0 <= 2.5 + 0.011:
            errs.append(f"overlap {o0}-{o1}: not 0.15-2.5 s")
    if "speakers" in lab:
        talkers = {u.get("person", u["speaker"]) for u in utts}
        if lab["speakers"] != len(talkers):
            errs.append(f"speakers {lab['speakers']} but {len(talkers)} talkers")
    if "refused" in lab:
        objected = any({"consent_refused", "consent_no"} & set(u["tags"]) for u in utts)
        if lab["refused"] != objected or (lab["consent"] in ("no", "refused")
                                          and not lab["refused"]):
            errs.append("refused disagrees with the consent tags")
    for it in lab.get("interruptions", []):
        by = [u for u in utts
              if u["speaker"] == it["by"] and abs(u["start"] - it["at"]) < 0.006]
        of = [u for u in utts
              if u["speaker"] == it["of"] and u["start"] + 0.3 <= it["at"] < u["end"]]
        ok = bool(by and of) and it["by"] != it["of"] and it["overlap_s"] >= 0.3
        if ok:
            want = round(min(by[0]["end"], of[0]["end"]) - it["at"], 2)
            ok = abs(want - it["overlap_s"]) < 0.011 and any(
                abs(o0 - it["at"]) < 0.006 and abs(o1 - o0 - want) < 0.011
                for o0, o1 in overlaps)
        if not ok:
            errs.append(f"interruption {it}: not a recorded cut-in of ≥ 0.3 s")

    ann = [u["start"] for u in utts if "announcement" in u["tags"]]
    if lab["announced"] != bool(ann) or lab["announced_at"] != (ann[0] if ann else None):
        errs.append("announced / announced_at disagree with the tags")
    if lab["pii_types"] != sorted({p["type"] for u in utts for p in u["pii"]}):
        errs.append("pii_types disagree with the utterances")
    for who, counts in lab["fillers"].items():
        said = " ".join(u["text"] for u in utts if u["speaker"] == who)
        for word, n in counts.items():
            # えー must not count the えー inside えーと
            if len(re.findall(re.escape(word) + "(?![ーと])", said)) != n:
                errs.append(f"filler {word!r} x{n} for {who} disagrees with the texts")
        tagged = sum(1 for u in utts if u["speaker"] == who and "filler" in u["tags"])
        if bool(tagged) != bool(counts):
            errs.append(f"filler tags and counts disagree for {who}")
    agent_said = [u["text"] for u in utts if u["speaker"] == "agent"]
    for key in ("ng_words", "good_words"):
        for word in lab.get(key, []):
            if not any(word in t for t in agent_said):
                errs.append(f"{key}: {word!r} is in no agent utterance")
    if "ng_words" in lab:
        for u in utts:
            hit = u["speaker"] == "agent" and any(w in u["text"] for w in lab["ng_words"])
            if hit != ("ng_word" in u["tags"]):
                errs.append(f"ng_word tag disagrees with ng_words at {u['start']}")
    for key, want in (("competitors", "competitor"), ("requests", "request")):
        for word in lab.get(key, []):
            if not any(word in u["text"] and want in u["tags"] for u in utts):
                errs.append(f"{key}: {word!r} is in no utterance tagged {want}")
    return errs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=Path, default=ROOT / "tests" / "data" / "calls")
    args = ap.parse_args()
    dirs = sorted(p for p in args.calls.iterdir() if (p / "truth.json").exists())
    bad = 0
    total = 0.0
    for d in dirs:
        errs = check_call(d)
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        total += truth["duration_s"]
        print(f"{'ok  ' if not errs else 'FAIL'} {d.name}: {truth['duration_s']:.2f} s, "
              f"{len(truth['utterances'])} utterances")
        for e in errs:
            print(f"       {e}")
        bad += bool(errs)
    ids = [json.loads((d / "meta.json").read_text(encoding="utf-8"))["external_id"]
           for d in dirs]
    if len(set(ids)) != len(ids):
        print("FAIL duplicate external_id in meta.json")
        bad += 1
    size = sum(f.stat().st_size for f in args.calls.rglob("*") if f.is_file())
    print(f"{len(dirs)} calls, {total:.1f} s of audio, {size / 1e6:.1f} MB; {bad} failing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
