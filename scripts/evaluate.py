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

Options compare the ways of driving the recogniser (docs/asr.md has the numbers):
  --engine bare       faster-whisper called directly (vad_filter=True, beam 5), per channel
  --hotwords off      without the domain vocabulary
  --prompt verbatim   with the filler-keeping prompt
  --real DIR          also a corpus of real recordings (DIR/<id>/audio.* + truth.json
                      with "text"), single speaker: CER only

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
from rokuon.engine.asr.metrics import cer, normalise_for_cer
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


def heard(tr: Transcript, role: str | None = None) -> str:
    """The transcript's words (unintelligible markers are not words)."""
    return "".join(s.text for s in sorted(tr.segments, key=lambda s: s.start)
                   if (role is None or s.speaker == role) and s.language != "und")


def role_cer(tr: Transcript, utts: list[dict[str, Any]]) -> dict[str, float]:
    out = {}
    for role in ("agent", "customer"):
        ref = "".join(u["text"] for u in utts if u["speaker"] == role)
        if ref:
            out[role] = cer(ref, heard(tr, role))
    out["all"] = cer("".join(u["text"] for u in sorted(utts, key=lambda u: u["start"])),
                     heard(tr))
    return out


class BareEngine:
    """faster-whisper as its README shows it: the model on each channel, vad_filter=True,
    no guard, no diarization (mono: one speaker), no vocabulary."""

    def __init__(self, model_dir: str, options: AsrOptions) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        self.model = WhisperModel(model_dir, device="cpu", compute_type=options.compute_type)

    def transcribe(self, audio: Any, roles: list[str]) -> Transcript:
        from rokuon.engine.types import Segment, Word

        segs = []
        for ch, samples in enumerate(audio.channels):
            role = roles[ch] if ch < len(roles) else "speaker_0"
            out, _ = self.model.transcribe(samples, language="ja", beam_size=5,
                                           vad_filter=True, word_timestamps=True)
            segs += [Segment(role, s.start, s.end, s.text.strip(),
                             [Word(w.word, w.start, w.end, w.probability)
                              for w in (s.words or [])], channel=ch) for s in out]
        return Transcript(segments=segs, language="ja", duration_s=audio.duration_s,
                          engine="bare", model="packaged")


def evaluate_real(engine: Any, d: Path) -> dict[str, Any]:
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    audio_file = next(p for p in sorted(d.iterdir()) if p.stem == "audio")
    with audio_file.open("rb") as fh:
        audio = decode(fh)
    t0 = time.perf_counter()
    tr = engine.transcribe(audio, ["speaker_0"])
    wall = time.perf_counter() - t0
    ref = truth["text"]
    return {"call": d.name, "mode": "real", "duration_s": audio.duration_s,
            "cer": {"all": cer(ref, heard(tr))}, "errors": round(cer(ref, heard(tr)) * len(
                normalise_for_cer(ref))), "chars": len(normalise_for_cer(ref)),
            "attribution": None, "asr_wall_s": round(wall, 2),
            "rtf": round(wall / audio.duration_s, 3), "hyp": heard(tr)}


def evaluate_call(engine: WhisperEngine, d: Path, mode: str, cache: Path | None = None
                  ) -> dict[str, Any]:
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    utts = truth["utterances"]
    wav = d / ("stereo.wav" if mode == "stereo" else "mono.wav")
    with wav.open("rb") as fh:
        audio = decode(fh)
    t0 = time.perf_counter()
    tr = engine.transcribe(audio, truth.get("stereo_channels", ["agent", "customer"])
                           if mode == "stereo" else [])
    wall = time.perf_counter() - t0
    if cache is not None and mode == "stereo":
        from evaluate_analysis import store_transcript

        store_transcript(cache, d, engine, tr.segments)
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


def _mean(values: Any) -> float | None:
    vals = [v for v in values if v is not None]
    return round(mean(vals), 4) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["stereo", "mono", "both"], default="both")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--calls", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--engine", choices=["pipeline", "bare"], default="pipeline")
    ap.add_argument("--hotwords", choices=["on", "off"], default="on")
    ap.add_argument("--prompt", default=None, help='"verbatim", a text, or "" (default: '
                    "the installation's setting)")
    ap.add_argument("--cpu-isa", default=None, help="AVX2 (default), auto, AVX512, GENERIC")
    ap.add_argument("--fillers", choices=["on", "off"], default="on",
                    help="write misspelt fillers as fillers (asr_restore_fillers)")
    ap.add_argument("--replies", choices=["on", "off"], default="on",
                    help="listen again to the customer's replies after the agent mentions "
                    "the recording (asr_reply_look)")
    ap.add_argument("--real", type=Path, help="a directory of real recordings")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "eval-asr",
                    help="stereo pipeline transcripts are kept here for "
                    "evaluate_analysis.py --source asr --cache (same options → same file)")
    ap.add_argument("--temperatures", default=None,
                    help='e.g. "0" (deterministic) or "0,0.2,0.4,0.6,0.8,1.0" (fallback)')
    args = ap.parse_args()

    s = load_settings()
    from rokuon.runtime import Runtime

    rt = Runtime(s, require_init=False)
    prompt = s.asr_initial_prompt if args.prompt is None else args.prompt
    options = AsrOptions(model=s.asr_model, beam_size=s.asr_beam_size,
                         initial_prompt=prompt_for(prompt), seed=s.asr_seed,
                         temperatures=tuple(float(t) for t in args.temperatures.split(","))
                         if args.temperatures else tuple(s.asr_temperatures),
                         cpu_isa=args.cpu_isa or s.asr_cpu_isa,
                         hotwords=rt.asr_hotwords() if args.hotwords == "on" else None,
                         hotwords_roles=tuple(s.asr_hotwords_roles),
                         language_check=s.asr_language_check,
                         restore_fillers=args.fillers == "on" and s.asr_restore_fillers,
                         reply_look=rt.asr_reply_look()
                         if args.replies == "on" and s.asr_reply_look else None)
    engine: Any = WhisperEngine(options, s.models_dir)
    if args.engine == "bare":
        from rokuon.engine.asr import numerics
        from rokuon.engine.asr.model import resolve_model

        numerics.pin(options.cpu_isa)
        engine = BareEngine(resolve_model(s.asr_model, s.models_dir), options)
    print(f"engine={args.engine} hotwords={options.hotwords!r} prompt={options.initial_prompt!r}"
          f" cpu_isa={options.cpu_isa} temperatures={options.temperatures}"
          f" restore_fillers={options.restore_fillers}"
          f" reply_look={options.reply_look is not None}")
    dirs = [d for d in (args.calls or sorted(CORPUS.glob("*"))) if (d / "truth.json").exists()]
    if args.limit:
        dirs = dirs[: args.limit]
    modes = ["stereo", "mono"] if args.mode == "both" else [args.mode]
    results = []
    print(f"{'call':34} {'mode':6} {'dur':>6} {'CER agent':>9} {'CER cust':>9} "
          f"{'attrib':>7} {'RTF':>6}")
    for d in dirs:
        for mode in modes:
            r = evaluate_call(engine, d, mode,
                              args.cache if args.engine == "pipeline" else None)
            results.append(r)
            attrib = f"{r['attribution']:.3f}" if r["attribution"] is not None else "-"
            print(f"{r['call']:34} {mode:6} {r['duration_s']:6.1f} "
                  f"{r['cer'].get('agent', float('nan')):9.3f} "
                  f"{r['cer'].get('customer', float('nan')):9.3f} {attrib:>7} {r['rtf']:6.3f}",
                  flush=True)
    if args.real:
        for d in sorted(p for p in args.real.glob("*") if (p / "truth.json").exists()):
            r = evaluate_real(engine, d)
            results.append(r)
            print(f"{r['call']:34} {'real':6} {r['duration_s']:6.1f} "
                  f"{r['cer']['all']:9.3f} {'':>9} {'-':>7} {r['rtf']:6.3f}", flush=True)
        modes = modes + ["real"]
    print("\nsummary (mean over calls):")
    summary: dict[str, Any] = {}
    for mode in modes:
        rs = [r for r in results if r["mode"] == mode]
        if not rs:
            continue
        if mode == "real":
            chars = sum(r["chars"] for r in rs)
            summary[mode] = {"clips": len(rs), "seconds": round(sum(r["duration_s"]
                                                                     for r in rs), 1),
                             "cer_pooled": round(sum(r["errors"] for r in rs) / chars, 4),
                             "cer_mean": round(mean(r["cer"]["all"] for r in rs), 4),
                             "rtf": round(mean(r["rtf"] for r in rs), 3)}
            print(f"  {mode}: {json.dumps(summary[mode], ensure_ascii=False)}")
            continue
        summary[mode] = {
            "calls": len(rs),
            "cer_agent": _mean(r["cer"].get("agent") for r in rs),
            "cer_customer": _mean(r["cer"].get("customer") for r in rs),
            "cer_all": round(mean(r["cer"]["all"] for r in rs), 4),
            "attribution": round(mean([r["attribution"] for r in rs
                                       if r["attribution"] is not None] or [0.0]), 4),
            "rtf": round(mean(r["rtf"] for r in rs), 3),
        }
        print(f"  {mode}: {json.dumps(summary[mode], ensure_ascii=False)}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "calls": results},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
