"""Accuracy of the post-call analyzers on the labelled corpus.

Runs every analyzer over each call of tests/data/calls (or --calls DIR…) twice:
- ``truth``: on the ground-truth utterances (exact text and times) — the analyzers'
  own accuracy, independent of speech recognition;
- ``asr``: on the stereo recording transcribed by the real pipeline engine (Whisper,
  per-channel VAD, the audio for voice agitation) — what a user gets.
and prints precision / recall per detector and errors in seconds for the metrics.

Usage: python scripts/evaluate_analysis.py [--source truth|asr|both] [--json OUT]
       [--cache DIR] [--vad tight|padded] [--errors]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from statistics import mean
from typing import Any

from rokuon.engine import analysis
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.types import Segment

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"
QA_TAGS = {"greeting": "greeting", "self_introduction": "own_name",
           "identity_check": "identity_check", "closing": "closing"}


class Tally:
    """Binary decisions → precision / recall."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = self.tn = 0
        self.errors: list[str] = []

    def add(self, truth: bool, predicted: bool, where: str) -> None:
        if truth and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
            self.errors.append(f"FP {where}")
        elif truth:
            self.fn += 1
            self.errors.append(f"FN {where}")
        else:
            self.tn += 1

    def row(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": None if p is None else round(p, 3),
                "recall": None if r is None else round(r, 3)}


def truth_segments(truth: dict[str, Any]) -> list[Segment]:
    return [Segment(speaker=u["speaker"], start=u["start"], end=u["end"], text=u["text"])
            for u in truth["utterances"]]


def transcribed(d: Path, audio: Any, roles: list[str], engine: Any, cache: Path | None
                ) -> list[Segment]:
    """ASR segments of the call (from ``cache`` when a run with the same engine
    options stored them there: analysis changes are then measured in seconds)."""
    from rokuon.engine.types import Word

    prompt = hashlib.sha256((engine.options.initial_prompt or "").encode()).hexdigest()[:8]
    key = f"{d.name}-{engine.options.model}-{engine.options.beam_size}-{prompt}.json"
    if cache is not None and (cache / key).exists():
        raw = json.loads((cache / key).read_text(encoding="utf-8"))
        return [Segment(speaker=r["speaker"], start=r["start"], end=r["end"], text=r["text"],
                        words=[Word(*w) for w in r["words"]]) for r in raw]
    segs = engine.transcribe(audio, roles).segments
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / key).write_text(json.dumps([
            {"speaker": x.speaker, "start": x.start, "end": x.end, "text": x.text,
             "words": [[w.text, w.start, w.end, w.probability] for w in x.words]}
            for x in segs], ensure_ascii=False), encoding="utf-8")
    return segs


def call_input(d: Path, truth: dict[str, Any], source: str, engine: Any,
               cache: Path | None = None, vad: str = "tight") -> CallInput:
    """As the analyze step builds it: per role the channel's tight voice activity, found
    inside the recogniser's padded VAD spans (``vad="padded"``: those spans themselves,
    as the metrics used them before)."""
    from rokuon.engine.asr.transcribe import SPLIT_GAP_S, in_seconds, speech_chunks
    from rokuon.engine.asr.words import refit
    from rokuon.engine.audio.activity import tight_activity
    from rokuon.engine.audio.decode import decode

    with (d / "stereo.wav").open("rb") as fh:
        audio = decode(fh)
    roles = truth.get("stereo_channels", ["agent", "customer"])
    per_role = dict(zip(roles, audio.channels, strict=False))
    speech = {r: in_seconds(speech_chunks(a)) for r, a in per_role.items()}
    if vad == "tight":
        speech = {r: tight_activity(a, regions=speech[r]) for r, a in per_role.items()}
    segs = (truth_segments(truth) if source == "truth"
            else transcribed(d, audio, roles, engine, cache))
    if source != "truth" and vad == "tight":  # transcripts cached before words were fitted
        segs = refit(segs, speech, SPLIT_GAP_S)
    return CallInput(segments=segs, duration_s=truth["duration_s"], language="ja",
                     direction=truth["labels"].get("direction"), speech=speech,
                     audio=per_role)


def overlaps_utt(item: dict[str, Any], u: dict[str, Any], slack: float = 0.6) -> bool:
    return item.get("start", -1) <= u["end"] + slack and item.get("end", -1) >= u["start"] - slack


def score_call(res: dict[str, Any], truth: dict[str, Any], t: dict[str, Tally],
               errs: dict[str, list[float]], name: str) -> None:
    lab, utts = truth["labels"], truth["utterances"]
    get = {k: v[1] for k, v in res.items()}
    con = get.get("consent") or {}
    t.setdefault("consent.announced", Tally()).add(lab["announced"], bool(con.get("announced")),
                                                   name)
    if lab["announced"] and con.get("announced_at") is not None:
        errs.setdefault("announced_at_s", []).append(abs(con["announced_at"] - lab["announced_at"]))
    for ans in ("yes", "no", "refused"):
        t.setdefault(f"consent.answer={ans}", Tally()).add(
            lab["consent"] == ans, con.get("answer") == ans, name)
    comp = get.get("complaint") or {}
    t.setdefault("complaint", Tally()).add(lab["complaint"], bool(comp.get("detected")), name)
    t.setdefault("abusive", Tally()).add(lab["abusive"], comp.get("label") == "abusive", name)
    t.setdefault("churn", Tally()).add(lab["churn"], bool((get.get("churn") or {})
                                                          .get("detected")), name)
    sent = (get.get("sentiment") or {}).get("customer") or {}
    t.setdefault("sentiment.customer_negative~complaint", Tally()).add(
        lab["complaint"], sent.get("label") == "negative", name)
    # PII: every labelled item found (same type, overlapping in time); every finding
    # of a labelled type that matches no item is a false positive
    pii = [p for p in get.get("pii") or [] if isinstance(p, dict)]
    labelled = [(u, p) for u in utts for p in u.get("pii", [])]
    for u, p in labelled:
        hit = any(f["type"] == p["type"] and overlaps_utt(f, u) for f in pii)
        t.setdefault(f"pii.{p['type']}", Tally()).add(True, hit, f"{name} {p['text']}")
    for f in pii:
        if f["type"] == "staff_name":
            continue
        ok = any(p["type"] == f["type"] and overlaps_utt(f, u) for u, p in labelled)
        if not ok:
            t.setdefault(f"pii.{f['type']}", Tally()).add(False, True,
                                                          f"{name} @{f['start']}")
    own = [u for u in utts if "own_name" in u.get("tags", [])]
    for u in own:
        t.setdefault("pii.staff_name(own_name)", Tally()).add(
            True, any(f["type"] == "staff_name" and overlaps_utt(f, u) for f in pii),
            f"{name} @{u['start']}")
    # fillers: counts per role and word
    fil = get.get("fillers") or {}
    for role in ("agent", "customer"):
        want = Counter(lab["fillers"].get(role, {}))
        got = Counter((fil.get(role) or {}).get("items", {}))
        matched = sum((want & got).values())
        tf = t.setdefault("fillers", Tally())
        tf.tp += matched
        tf.fp += sum(got.values()) - matched
        tf.fn += sum(want.values()) - matched
        if want != got:
            tf.errors.append(f"{name} {role}: want {dict(want)} got {dict(got)}")
    # requests and competitors (utterance level)
    tags = (get.get("voc") or {}).get("tags", [])
    for kind in ("request", "competitor"):
        for u in utts:
            if u["speaker"] == "agent":
                continue
            t.setdefault(f"voc.{kind}", Tally()).add(
                kind in u.get("tags", []),
                any(g["tag"] == kind and overlaps_utt(g, u, 0.1) for g in tags),
                f"{name} {u['text'][:20]}")
    # QA criteria vs tagged behaviour
    crit = {c["id"]: c for c in (get.get("qa") or {}).get("criteria", [])}
    all_tags = {tag for u in utts for tag in u.get("tags", []) if u["speaker"] == "agent"}
    for cid, tag in QA_TAGS.items():
        if cid in crit:
            t.setdefault(f"qa.{cid}", Tally()).add(tag in all_tags, bool(crit[cid]["passed"]),
                                                   name)
    if lab["complaint"] and "apology" in crit:
        t.setdefault("qa.apology", Tally()).add("apology" in all_tags,
                                                bool(crit["apology"]["passed"]), name)
    # NG / GOOD words where the corpus labels them
    kw = [k for k in get.get("keywords") or [] if isinstance(k, dict)]
    for lst in ("ng", "good"):
        want = lab.get(f"{lst}_words")
        if want is None:
            continue
        found = {k["word"] for k in kw if k["list"] == lst}
        for w in want:
            t.setdefault(f"keywords.{lst}", Tally()).add(True, any(
                w in f or f in w for f in found), f"{name} {w}")
    score_metrics(get.get("metrics") or {}, truth, t, errs, name)


def metric_truth(truth: dict[str, Any]) -> dict[str, float]:
    """Talk, silence, overlap, interruptions and longest hold from the labelled times
    (utterances are the audible speech, pauses inside them included)."""
    from rokuon.engine.analysis.talk_metrics import gaps, merge, total

    utts, lab = truth["utterances"], truth["labels"]
    ref = {f"{r}_talk_s": sum(u["end"] - u["start"] for u in utts if u["speaker"] == r)
           for r in ("agent", "customer")}
    ref["silence_s"] = total(gaps(merge([(u["start"], u["end"]) for u in utts]),
                                  truth["duration_s"]))
    ref["overlap_s"] = sum(e - s for s, e in lab.get("overlaps", []))
    # labelled cut-ins; older calls label only overlaps, each of them a cut-in
    ref["interruptions"] = len(lab.get("interruptions", lab.get("overlaps", [])))
    ref["longest_hold_s"] = max((e - s for s, e in lab.get("hold_s", [])), default=0.0)
    return ref


# the targets of the timing metrics: talk and silence within ±1.5 s or 10 %, overlap
# within ±1.0 s, interruptions exact
TARGETS = {"agent_talk_s": (1.5, 0.1), "customer_talk_s": (1.5, 0.1),
           "silence_s": (1.5, 0.1), "overlap_s": (1.0, 0.0), "interruptions": (0.0, 0.0)}
METRICS: dict[str, dict[str, Any]] = {}  # call → metric → [truth, computed]


def score_metrics(m: dict[str, Any], truth: dict[str, Any], t: dict[str, Tally],
                  errs: dict[str, list[float]], name: str) -> None:
    got = {k: m.get(k) or 0.0 for k in ("agent_talk_s", "customer_talk_s", "silence_s",
                                         "overlap_s", "interruptions")}
    got["longest_hold_s"] = (m.get("hold") or {}).get("longest_s") or 0.0
    ref = metric_truth(truth)
    METRICS[name] = {k: [round(ref[k], 2), got[k]] for k in ref}
    for k, want in ref.items():
        err = abs(got[k] - want)
        errs.setdefault(k, []).append(err)
        if k in TARGETS:
            absolute, relative = TARGETS[k]
            t.setdefault(f"target.{k}", Tally()).add(
                True, err <= max(absolute, relative * want) + 1e-6,
                f"{name} truth {want:.2f} got {got[k]:.2f}")
    t.setdefault("hold", Tally()).add(bool(ref["longest_hold_s"]), got["longest_hold_s"] > 0,
                                      name)
    found = m.get("interruptions_detail") or []
    for cut in truth["labels"].get("interruptions", []):  # who cut in, and when (±0.3 s)
        t.setdefault("interruption.by+at", Tally()).add(True, any(
            f["by"] == cut["by"] and abs(f["at"] - cut["at"]) <= 0.3 for f in found),
            f"{name} {cut['by']} @{cut['at']}")


def score_words(segments: list[Segment], truth: dict[str, Any], t: dict[str, Tally],
                errs: dict[str, list[float]], name: str) -> None:
    """Per-word speaker attribution (share of word time whose speaker speaks then in the
    truth, ±0.15 s) and segment spill (seconds of the other party's speech, while this
    party is silent, that this party's segments cover)."""
    from rokuon.engine.analysis.talk_metrics import gaps, intersect, merge, total

    utts = truth["utterances"]
    ok = all_ = 0.0
    for seg in segments:
        for w in seg.words:
            mid = (w.start + w.end) / 2
            refs = {u["speaker"] for u in utts if u["start"] - 0.15 <= mid <= u["end"] + 0.15}
            if refs:
                all_ += w.end - w.start
                ok += (w.end - w.start) * (seg.speaker in refs)
    share = ok / all_ if all_ else 1.0
    errs.setdefault("word_attribution_miss", []).append(1.0 - share)
    t.setdefault("target.word_attribution>=0.98", Tally()).add(True, share >= 0.98,
                                                               f"{name} {share:.3f}")
    spill = 0.0
    for role in {s.speaker for s in segments}:
        own = merge([(u["start"], u["end"]) for u in utts if u["speaker"] == role])
        others = merge([(u["start"], u["end"]) for u in utts if u["speaker"] != role])
        alone = intersect(others, gaps(own, truth["duration_s"]))
        spill += total(intersect(merge([(s.start, s.end) for s in segments
                                        if s.speaker == role]), alone))
    errs.setdefault("segment_spill_s", []).append(spill)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["truth", "asr", "both"], default="both")
    ap.add_argument("--calls", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--errors", action="store_true", help="list every miss and false alarm")
    ap.add_argument("--cache", type=Path, help="keep ASR transcripts here between runs")
    ap.add_argument("--vad", choices=["tight", "padded"], default="tight",
                    help="voice activity for the metrics: tight (as the analyze step) or "
                         "the recogniser's padded VAD (as before, for comparison)")
    args = ap.parse_args()
    dirs = args.calls or sorted(p for p in CORPUS.glob("*") if (p / "truth.json").exists())
    sources = ["truth", "asr"] if args.source == "both" else [args.source]
    engine = None
    if "asr" in sources:
        from rokuon.config import load_settings
        from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine, prompt_for

        s = load_settings()
        engine = WhisperEngine(AsrOptions(model=s.asr_model, beam_size=s.asr_beam_size,
                                          initial_prompt=prompt_for(s.asr_initial_prompt)),
                               s.models_dir)
    cfg = load_config()
    report: dict[str, Any] = {}
    for source in sources:
        tallies: dict[str, Tally] = {}
        errs: dict[str, list[float]] = {}
        wall = 0.0
        for d in dirs:
            truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
            inp = call_input(d, truth, source, engine, args.cache, args.vad)
            t0 = time.perf_counter()
            res = analysis.run_all(inp, cfg)
            wall += time.perf_counter() - t0
            broken = {k: v[1]["error"] for k, v in res.items()
                      if isinstance(v[1], dict) and "error" in v[1]}
            if broken:
                print(f"  {d.name}: analyzer errors {broken}", file=sys.stderr)
            score_call(res, truth, tallies, errs, d.name)
            if source != "truth":
                score_words(inp.segments, truth, tallies, errs, d.name)
        print(f"\n== source: {source} ({len(dirs)} calls, analysis {wall:.1f} s) ==")
        print(f"{'detector':40} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6}")
        rows = {}
        for name in sorted(tallies):
            r = tallies[name].row()
            rows[name] = r
            fmt = (lambda v: "-" if v is None else f"{v:.3f}")  # noqa: E731
            print(f"{name:40} {r['tp']:4} {r['fp']:4} {r['fn']:4} {fmt(r['precision']):>6} "
                  f"{fmt(r['recall']):>6}")
            if args.errors:
                for e in tallies[name].errors:
                    print(f"{'':6}{e}")
        print("metric errors (mean / max absolute; seconds, count, share):")
        merr = {}
        for name, vals in sorted(errs.items()):
            merr[name] = {"mean": round(mean(vals), 2), "max": round(max(vals), 2)}
            print(f"  {name:24} {merr[name]['mean']:6.2f} {merr[name]['max']:6.2f}")
        report[source] = {"detectors": rows, "metric_errors": merr,
                          "metrics_per_call": dict(METRICS), "analysis_wall_s": round(wall, 2)}
        METRICS.clear()
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
