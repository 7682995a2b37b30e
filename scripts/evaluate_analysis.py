"""Accuracy of the post-call analyzers on the labelled corpus.

Runs every analyzer over each call of tests/data/calls (or --calls DIR…) twice:
- ``truth``: on the ground-truth utterances (exact text and times) — the analyzers'
  own accuracy, independent of speech recognition;
- ``asr``: on the stereo recording transcribed by the real pipeline engine (Whisper,
  per-channel VAD, the audio for voice agitation) — what a user gets.
and prints precision / recall per detector and errors in seconds for the metrics.

Reading-aware matching (``--matching both``, the default): every detector runs with
phrase matching on text only and with reading matching on, side by side, and
``--perturb`` adds a source between the two — the ground truth with words swapped for
the homophones speech recognition writes (解約 → 開約 / 開薬, 録音 → 欲温 / ヨクオン /
ロコン, …) plus decoy utterances that sound like a phrase but are other words (他者,
保存させていただきます, 解約しない…). Besides the call-level detectors, each phrase
list is scored per (call, phrase): recall on the calls whose truth text says the
phrase, false positives on the calls that do not.

Usage: python scripts/evaluate_analysis.py [--source truth|asr|both] [--perturb]
       [--matching text|reading|both] [--tolerance T] [--no-guard] [--json OUT]
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
from rokuon.engine.analysis.keywords import compile_lists
from rokuon.engine.analysis.patterns import TEXT_ONLY, MatchOptions, match, options
from rokuon.engine.types import Segment
from rokuon.text.normalize import normalize

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


def cache_key(d: Path, engine: Any) -> str:
    """File name of a call's cached transcript: the call and every decoding option."""
    opts = json.dumps(engine.decoding(), sort_keys=True, ensure_ascii=False)
    return f"{d.name}-{engine.options.model}-{hashlib.sha256(opts.encode()).hexdigest()[:12]}.json"


def store_transcript(cache: Path, d: Path, engine: Any, segs: list[Segment]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / cache_key(d, engine)).write_text(json.dumps([
        {"speaker": x.speaker, "start": x.start, "end": x.end, "text": x.text,
         "words": [[w.text, w.start, w.end, w.probability] for w in x.words]}
        for x in segs], ensure_ascii=False), encoding="utf-8")


def transcribed(d: Path, audio: Any, roles: list[str], engine: Any, cache: Path | None
                ) -> list[Segment]:
    """ASR segments of the call (from ``cache`` when a run with the same engine
    options stored them there: analysis changes are then measured in seconds)."""
    from rokuon.engine.types import Word

    key = cache_key(d, engine)
    if cache is not None and (cache / key).exists():
        raw = json.loads((cache / key).read_text(encoding="utf-8"))
        return [Segment(speaker=r["speaker"], start=r["start"], end=r["end"], text=r["text"],
                        words=[Word(*w) for w in r["words"]]) for r in raw]
    segs = engine.transcribe(audio, roles).segments
    if cache is not None:
        store_transcript(cache, d, engine, segs)
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


# What speech recognition writes for words it mishears (observed with Whisper base on
# 8 kHz calls, issue 11): each occurrence takes the next spelling in turn.
HOMOPHONES: list[tuple[str, list[str]]] = [
    ("録音", ["欲温", "ヨクオン", "ロコン"]),
    ("解約", ["開約", "開薬"]),
    ("他社", ["多社"]),
    ("お電話", ["オーテン"]),
    ("向上", ["工場"]),  # a real word: the guard refuses it (measured)
    ("責任者", ["責任車"]),
    ("誠意", ["成意"]),
    ("承知", ["商知"]),
]
# Utterances that sound like a phrase but are other words, or say its opposite: any
# detection on them is a false positive.
DECOYS: list[tuple[str, str]] = [
    ("agent", "お客様の情報を保存させていただきます。"),
    ("customer", "他者の目が気になるんです。"),
    ("customer", "解約しないでおきます。"),
    ("customer", "録音を聞いてください。"),
    ("customer", "記者の方から連絡がありました。"),
    ("customer", "いい機会約束どおりにお願いします。"),
    ("agent", "あいにく生姜ないんです。"),
    ("customer", "九条の近くに住んでいます。"),
    ("customer", "解約するつもりはありません。"),
    ("agent", "保存しております。"),
]


def perturb(text: str, turn: Counter[str]) -> str:
    for word, spellings in HOMOPHONES:
        while word in text:
            text = text.replace(word, spellings[turn[word] % len(spellings)], 1)
            turn[word] += 1
    return text


def perturbed_truth(truth: dict[str, Any]) -> dict[str, Any]:
    turn: Counter[str] = Counter()
    return {**truth, "utterances": [{**u, "text": perturb(u["text"], turn)}
                                    for u in truth["utterances"]]}


def decoy_truth() -> dict[str, Any]:
    utts = [{"speaker": sp, "start": 2.0 * i, "end": 2.0 * i + 1.8, "text": t, "tags": [],
             "pii": []} for i, (sp, t) in enumerate(DECOYS)]
    return {"call_id": "decoys", "duration_s": 2.0 * len(DECOYS), "utterances": utts,
            "labels": {"announced": False, "consent": "not_asked", "complaint": False,
                       "abusive": False, "churn": False, "fillers": {}, "direction": None}}


def phrase_lists(cfg: dict[str, Any]) -> list[tuple[str, str, dict[str, str], MatchOptions]]:
    """(detector, speaker, spelling → phrase, options) for every phrase list."""
    c, comp, churn, voc = (cfg.get(k, {}) for k in ("consent", "complaint", "churn", "voc"))
    out: list[tuple[str, str, dict[str, str], MatchOptions]] = []

    def add(name: str, speaker: str, phrases: list[Any], opts: MatchOptions) -> None:
        out.append((name, speaker, {str(p): str(p) for p in phrases}, opts))

    co = options(cfg, c)
    for key, speaker in (("announcement", "agent"), ("purpose", "agent"),
                         ("question", "agent"), ("answer_yes", "customer"),
                         ("answer_no", "customer"), ("refuse", "customer")):
        add(f"consent.{key}", speaker, list(c.get(key, [])), co)
    for key in ("cues", "abusive_cues"):
        add(f"complaint.{key}", "customer", [x["phrase"] for x in comp.get(key, [])],
            options(cfg, comp))
    add("churn.cues", "customer", [x["phrase"] for x in churn.get("cues", [])],
        options(cfg, churn))
    for kl in compile_lists(cfg):
        out.append((f"keywords.{kl.name}", kl.speaker, kl.spellings, kl.opts))
    add("voc.competitors", "customer", list(voc.get("competitors", [])), options(cfg, voc))
    add("voc.requests", "customer", list(voc.get("requests", [])),
        options(cfg, voc, {"matching": voc.get("request_matching")}))
    card = (cfg.get("scorecards") or {}).get("default_ja", {})
    qa_opts = options(cfg, cfg.get("qa"))
    for crit in card.get("criteria", []):
        if crit.get("phrases") and crit.get("type") != "self_introduction":
            add(f"qa.{crit['id']}", crit.get("speaker", "agent"), list(crit["phrases"]),
                qa_opts)
    return out


def _said(texts: list[str], spellings: dict[str, str], opts: MatchOptions,
          verbatim: bool = False) -> set[str]:
    """Phrases found in the texts; ``verbatim``: also those written there letter for
    letter (where the dictionary-form match misses one, e.g. 教えてください)."""
    found: set[str] = set()
    for text in texts:
        found |= {spellings[h.phrase] for h in match(text, list(spellings), opts)}
        if verbatim:
            flat = normalize(text)
            found |= {w for p, w in spellings.items() if normalize(p) in flat}
    return found


def score_phrases(truth: dict[str, Any], segs: list[Segment], cfg: dict[str, Any],
                  reading: bool, t: dict[str, Tally], name: str) -> None:
    """Per (call, phrase): did the transcript match a phrase the truth text says
    (recall), or one it does not say (a false positive)?"""
    for det, speaker, spellings, opts in phrase_lists(cfg):
        def who(sp: str, speaker: str = speaker) -> bool:
            return speaker == "any" or sp == speaker or (speaker == "customer" and
                                                         sp != "agent")
        said = _said([u["text"] for u in truth["utterances"] if who(u["speaker"])],
                     spellings, TEXT_ONLY, verbatim=True)
        got = _said([x.text for x in segs if who(x.speaker)], spellings,
                    opts if reading else TEXT_ONLY)
        tally = t.setdefault(f"phrases.{det}", Tally())
        for phrase in sorted(set(spellings.values())):
            tally.add(phrase in said, phrase in got, f"{name} {phrase}")


def overlaps_utt(item: dict[str, Any], u: dict[str, Any], slack: float = 0.6) -> bool:
    return item.get("start", -1) <= u["end"] + slack and item.get("end", -1) >= u["start"] - slack


def score_call(res: dict[str, Any], truth: dict[str, Any], t: dict[str, Tally],
               errs: dict[str, list[float]], name: str, full: bool = True) -> None:
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
    t.setdefault("consent.refused", Tally()).add(
        bool(lab.get("refused", lab["consent"] == "refused")), bool(con.get("refused")), name)
    if not full:  # decoys: the yes/no detectors only
        return
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
        # the target: the count per party within ±2 of what was said ("recall" = share
        # of (call, party) pairs on target)
        diff = sum(got.values()) - sum(want.values())
        t.setdefault("fillers count ±2 per party", Tally()).add(
            True, abs(diff) <= 2, f"{name} {role}: said {sum(want.values())}, "
            f"counted {sum(got.values())}")
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


def _run(source: str, d: Path | None, truth: dict[str, Any], engine: Any,
         cache: Path | None, inputs: dict[tuple[str, str], CallInput], vad: str
         ) -> CallInput:
    key = (source, d.name if d else "decoys")
    if key not in inputs:
        if d is None:
            inputs[key] = CallInput(segments=truth_segments(truth),
                                    duration_s=truth["duration_s"], language="ja")
        else:
            inputs[key] = call_input(d, perturbed_truth(truth) if source == "perturbed"
                                     else truth, "truth" if source == "perturbed" else source,
                                     engine, cache, vad)
    return inputs[key]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def evaluate(source: str, modes: list[str], dirs: list[Path], cfg: dict[str, Any],
             engine: Any, cache: Path | None, show_errors: bool, vad: str = "tight"
             ) -> dict[str, Any]:
    """One source, each matching mode: detector tallies, side by side."""
    by_mode: dict[str, dict[str, Tally]] = {}
    errs: dict[str, list[float]] = {}
    inputs: dict[tuple[str, str], CallInput] = {}
    wall: dict[str, float] = {}
    calls: list[tuple[Path | None, dict[str, Any]]] = [
        (d, json.loads((d / "truth.json").read_text(encoding="utf-8"))) for d in dirs]
    if source != "asr":
        calls.append((None, decoy_truth()))
    for mode in modes:
        mcfg = {**cfg, "matching": {**(cfg.get("matching") or {}),
                                    "reading": mode == "reading"}}
        tallies = by_mode.setdefault(mode, {})
        wall[mode] = 0.0
        for d, truth in calls:
            inp = _run(source, d, truth, engine, cache, inputs, vad)
            t0 = time.perf_counter()
            res = analysis.run_all(inp, mcfg)
            wall[mode] += time.perf_counter() - t0
            broken = {k: v[1]["error"] for k, v in res.items()
                      if isinstance(v[1], dict) and "error" in v[1]}
            if broken:
                print(f"  {truth['call_id']}: analyzer errors {broken}", file=sys.stderr)
            name = d.name if d else "decoys"
            last = mode == modes[-1]  # metrics do not depend on matching: once
            score_call(res, truth, tallies, errs if last else {}, name, full=d is not None)
            if source == "asr" and last:
                score_words(inp.segments, truth, tallies, errs, name)
            score_phrases(truth, inp.segments, mcfg, mode == "reading", tallies, name)
    n = len(calls)
    print(f"\n== source: {source} ({n} calls incl. decoys; analysis "
          + ", ".join(f"{m} {w:.1f} s" for m, w in wall.items()) + ") ==")
    head = "".join(f" | {m + ': tp fp fn   prec recall':34}" for m in modes)
    print(f"{'detector':40}{head}")
    rows: dict[str, dict[str, Any]] = {}
    for name in sorted(set().union(*(set(t) for t in by_mode.values()))):
        line = f"{name:40}"
        for m in modes:
            r = by_mode[m].get(name, Tally()).row()
            rows.setdefault(name, {})[m] = r
            line += (f" | {r['tp']:>10} {r['fp']:>3} {r['fn']:>3} {_fmt(r['precision']):>6} "
                     f"{_fmt(r['recall']):>6}")
        print(line)
        if show_errors:
            for m in modes:
                for e in by_mode[m].get(name, Tally()).errors:
                    print(f"{'':6}[{m}] {e}")
    print("metric errors (mean / max absolute; seconds, count, share):")
    merr = {}
    for name, vals in sorted(errs.items()):
        merr[name] = {"mean": round(mean(vals), 2), "max": round(max(vals), 2)}
        print(f"  {name:24} {merr[name]['mean']:6.2f} {merr[name]['max']:6.2f}")
    out = {"detectors": rows, "metric_errors": merr, "metrics_per_call": dict(METRICS),
           "analysis_wall_s": {m: round(w, 2) for m, w in wall.items()}}
    METRICS.clear()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["truth", "asr", "both"], default="both")
    ap.add_argument("--perturb", action="store_true",
                    help="also the truth with homophones swapped in (simulated ASR errors)")
    ap.add_argument("--matching", choices=["text", "reading", "both"], default="both",
                    help="phrase matching on text only, also on readings, or both")
    ap.add_argument("--tolerance", type=float,
                    help="mora edit distance per mora for long phrases (matching.tolerance)")
    ap.add_argument("--no-guard", action="store_true",
                    help="let homophones that are words of their own match (to measure it)")
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
    if args.perturb:
        sources.insert(1 if "truth" in sources else 0, "perturbed")
    modes = ["text", "reading"] if args.matching == "both" else [args.matching]
    engine = None
    if "asr" in sources:
        from rokuon.config import load_settings
        from rokuon.runtime import Runtime

        engine = Runtime(load_settings(), require_init=False).asr  # as the pipeline runs it
    cfg = load_config()
    over = {"tolerance": args.tolerance} if args.tolerance is not None else {}
    if args.no_guard:
        over["guard"] = False
    cfg = {**cfg, "matching": {**(cfg.get("matching") or {}), **over}}
    report = {source: evaluate(source, modes, dirs, cfg, engine, args.cache, args.errors,
                               args.vad) for source in sources}
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
