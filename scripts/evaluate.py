"""Accuracy of transcription and speaker attribution on the labelled corpus.

For every call in tests/data/calls (or --calls DIR...):
- stereo.wav (agent left, customer right) → per-channel ASR
- mono.wav (both mixed) → ASR + diarization (speakers mapped to roles)
and prints, per call and overall:
- CER per role: the role's reference utterances concatenated vs the hypothesis
  segments attributed to that role (NFKC, punctuation and spaces removed);
- speaker attribution accuracy: the share of hypothesis words (by duration)
  whose speaker is speaking in the ground truth at the word's midpoint (during
  an overlap either speaker counts; words in gaps are not counted).

Usage: python scripts/evaluate.py [--mode stereo|mono|both] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import mean
from typing import Any

from rokuon.config import load_settings
from rokuon.engine.asr.metrics import cer
from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine, prompt_for
from rokuon.engine.audio.decode import decode
from rokuon.engine.types import Transcript

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"


def truth_speakers_at(utts: list[dict[str, Any]], t: float) -> set[str]:
    """Who is speaking at time t (two speakers during an overlap)."""
    return {u["speaker"] for u in utts if u["start"] - 0.15 <= t <= u["end"] + 0.15}


def attribution(tr: Transcript, utts: list[dict[str, Any]]) -> tuple[float, float]:
    """(correct seconds, counted seconds) over hypothesis words."""
    ok = total = 0.0
    for seg in tr.segments:
        words = seg.words or []
        spans = [(w.start, w.end) for w in words] or [(seg.start, seg.end)]
        for s, e in spans:
            refs = truth_speakers_at(utts, (s + e) / 2)
            if not refs:
                continue
            d = max(e - s, 0.01)
            total += d
            ok += d if seg.speaker in refs else 0.0
    return ok, total


def role_cer(tr: Transcript, utts: list[dict[str, Any]]) -> dict[str, float]:
    out = {}
    for role in ("agent", "customer"):
        ref = "".join(u["text"] for u in utts if u["speaker"] == role)
        hyp = "".join(s.text for s in tr.segments if s.speaker == role)
        if ref:
            out[role] = cer(ref, hyp)
    return out


def evaluate_call(engine: WhisperEngine, d: Path, mode: str) -> dict[str, Any]:
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    utts = truth["utterances"]
    wav = d / ("stereo.wav" if mode == "stereo" else "mono.wav")
    with wav.open("rb") as fh:
        audio = decode(fh)
    t0 = time.perf_counter()
    tr = engine.transcribe(audio, truth.get("stereo_channels", ["agent", "customer"])
                           if mode == "stereo" else [])
    wall = time.perf_counter() - t0
    ok, total = attribution(tr, utts)
    res: dict[str, Any] = {
        "call": d.name, "mode": mode, "duration_s": truth["duration_s"],
        "cer": role_cer(tr, utts), "attribution": ok / total if total else None,
        "asr_wall_s": round(wall, 2), "rtf": round(wall / truth["duration_s"], 3),
        "dropped": len(tr.dropped),
    }
    if tr.diarization:
        res["role_confidence"] = tr.diarization.get("role_confidence")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["stereo", "mono", "both"], default="both")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--calls", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    s = load_settings()
    engine = WhisperEngine(AsrOptions(model=s.asr_model, beam_size=s.asr_beam_size,
                                      initial_prompt=prompt_for(s.asr_initial_prompt)),
                           s.models_dir)
    dirs = args.calls or sorted(p for p in CORPUS.glob("*") if (p / "truth.json").exists())
    if args.limit:
        dirs = dirs[: args.limit]
    modes = ["stereo", "mono"] if args.mode == "both" else [args.mode]
    results = []
    print(f"{'call':34} {'mode':6} {'dur':>6} {'CER agent':>9} {'CER cust':>9} "
          f"{'attrib':>7} {'RTF':>6}")
    for d in dirs:
        for mode in modes:
            r = evaluate_call(engine, d, mode)
            results.append(r)
            attrib = f"{r['attribution']:.3f}" if r["attribution"] is not None else "-"
            print(f"{r['call']:34} {mode:6} {r['duration_s']:6.1f} "
                  f"{r['cer'].get('agent', float('nan')):9.3f} "
                  f"{r['cer'].get('customer', float('nan')):9.3f} {attrib:>7} {r['rtf']:6.3f}",
                  flush=True)
    print("\nsummary (mean over calls):")
    summary: dict[str, Any] = {}
    for mode in modes:
        rs = [r for r in results if r["mode"] == mode]
        summary[mode] = {
            "calls": len(rs),
            "cer_agent": round(mean(r["cer"]["agent"] for r in rs if "agent" in r["cer"]), 4),
            "cer_customer": round(mean(r["cer"]["customer"] for r in rs
                                       if "customer" in r["cer"]), 4),
            "attribution": round(mean(r["attribution"] for r in rs
                                      if r["attribution"] is not None), 4),
            "rtf": round(mean(r["rtf"] for r in rs), 3),
        }
        print(f"  {mode}: {json.dumps(summary[mode], ensure_ascii=False)}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "calls": results},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
