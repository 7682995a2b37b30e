"""FAQ assist on the labelled utterances: BM25 alone, embeddings alone and fused.

For every utterance of eval/faq/utterances_ja.yaml (colloquial customer speech with
fillers, recognition mistakes and paraphrases, ``expect`` = the question of the entry
that answers it, or null) against the default FAQ (src/rokuon/assist/defaults/
faq_ja.csv), and for each method at its operating threshold, prints

- hit@1, hit@3: the expected entry is the first / among the (at most 3) suggestions;
- MRR: the mean of 1/rank of the expected entry among the suggestions (0 if absent);
- none: the share of answerable utterances that got no suggestion at all;
- false: the share of the no-match utterances that got a suggestion (false-suggestion
  rate).

``fused`` runs at the shipped options (rokuon.assist.retrieval.RetrievalOptions). For
a fair comparison each method is also shown at its best threshold with at most 10 %
false suggestions (``@fs≤10%``; fitted on this set, so optimistic). ``--sweep`` prints
the thresholds, fusion weights and reciprocal-rank fusion tried to choose the options.
Utterances that worth_suggesting() skips (fillers, one short word) get nothing in every
method, as live.

Usage: python scripts/evaluate_faq.py [--faq FILE] [--set FILE] [--sweep] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rokuon.assist.knowledge import default_file, parse_file
from rokuon.assist.retrieval import (
    FaqDoc,
    FaqIndex,
    RetrievalOptions,
    Scores,
    fuse,
    shared_embedder,
)
from rokuon.assist.suggest import LIMIT, worth_suggesting

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = ROOT / "eval" / "faq" / "utterances_ja.yaml"
MAX_FALSE = 0.10


def load_set(path: Path, questions: list[str]) -> list[tuple[str, int | None]]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for i, r in enumerate(rows, start=1):
        exp = r.get("expect")
        if exp is not None and exp not in questions:
            raise SystemExit(f"{path.name} item {i}: expect {exp!r} is no question of the FAQ")
        out.append((str(r["text"]), questions.index(exp) if exp is not None else None))
    return out


def metrics(ranked: list[list[int]], labels: list[int | None]) -> dict[str, float]:
    """``ranked``: per utterance the suggested entry indexes (best first, ≤ 3)."""
    pos = [(r, y) for r, y in zip(ranked, labels, strict=True) if y is not None]
    neg = [r for r, y in zip(ranked, labels, strict=True) if y is None]
    rr = [1.0 / (r.index(y) + 1) if y in r else 0.0 for r, y in pos]
    return {"hit@1": float(np.mean([bool(r) and r[0] == y for r, y in pos])),
            "hit@3": float(np.mean([y in r[:3] for r, y in pos])),
            "mrr": float(np.mean(rr)),
            "none": float(np.mean([not r for r, _ in pos])),
            "false": float(np.mean([bool(r) for r in neg])) if neg else 0.0}


def ranked_by(score: np.ndarray, threshold: float) -> list[int]:
    order = np.argsort(-score, kind="stable")[:LIMIT]
    return [int(i) for i in order if score[i] >= threshold]


def method_scores(s: Scores, o: RetrievalOptions) -> dict[str, np.ndarray]:
    return {"bm25": s.lexical / (s.lexical + o.lexical_half),
            "embeddings": fuse(s, replace(o, weight=1.0)),
            "fused": fuse(s, o)}


def evaluate(all_scores: list[Scores | None], labels: list[int | None], o: RetrievalOptions,
             method: str, threshold: float) -> dict[str, float]:
    ranked = [ranked_by(method_scores(s, o)[method], threshold) if s is not None else []
              for s in all_scores]
    return metrics(ranked, labels)


def best_threshold(all_scores: list[Scores | None], labels: list[int | None],
                   o: RetrievalOptions, method: str) -> tuple[float, dict[str, float]]:
    best: tuple[float, dict[str, float]] | None = None
    for t in np.arange(0.0, 1.0001, 0.01):
        m = evaluate(all_scores, labels, o, method, float(t))
        if m["false"] <= MAX_FALSE and (best is None or m["hit@3"] > best[1]["hit@3"]
                                        or (m["hit@3"] == best[1]["hit@3"]
                                            and m["mrr"] > best[1]["mrr"])):
            best = (round(float(t), 2), m)
    assert best is not None
    return best


def rrf_ranking(all_scores: list[Scores | None], labels: list[int | None], k: int = 60
                ) -> dict[str, float]:
    ranked = []
    for s in all_scores:
        if s is None:
            ranked.append([])
            continue
        rb = np.argsort(np.argsort(-s.lexical, kind="stable"), kind="stable")
        rd = np.argsort(np.argsort(-s.dense, kind="stable"), kind="stable")
        ranked.append(ranked_by(1 / (k + rb + 1) + 1 / (k + rd + 1), 0.0))
    return metrics(ranked, labels)


def line(name: str, m: dict[str, float], extra: str = "") -> str:
    return (f"{name:24} hit@1 {m['hit@1']:.3f}  hit@3 {m['hit@3']:.3f}  MRR {m['mrr']:.3f}  "
            f"none {m['none']:.3f}  false {m['false']:.3f}  {extra}")


def sweep(docs: list[FaqDoc], texts: list[str], labels: list[int | None],
          o: RetrievalOptions) -> None:
    all_scores = all_scores_for(docs, texts, o)
    print("\n-- ranking only (no threshold) --")
    for method in ("bm25", "embeddings", "fused"):
        print(line(method, evaluate(all_scores, labels, o, method, -1.0)))
    print(line("rrf k=60", rrf_ranking(all_scores, labels)))
    print("\n-- reading n-grams: BM25 alone and fused at the best threshold (false ≤ 10 %) --")
    for gram in (2, 3):
        for fold in (False, True):
            oo = replace(o, reading_gram=gram, fold_voicing=fold)
            sc = all_scores_for(docs, texts, oo)
            for method in ("bm25", "fused"):
                t, m = best_threshold(sc, labels, oo, method)
                print(line(f"{method} n={gram} fold={fold}", m, f"threshold {t}"))
    print("\n-- fused: weight × reading_weight × lexical_half, best threshold (false ≤ 10 %) --")
    for w in (0.4, 0.5, 0.6):
        for rw in (0.0, 0.5, 1.0):
            for half in (3.0, 6.0):
                oo = replace(o, weight=w, reading_weight=rw, lexical_half=half)
                t, m = best_threshold(all_scores_for(docs, texts, oo), labels, oo, "fused")
                print(line(f"w={w} rw={rw} half={half}", m, f"threshold {t}"))
    print("\n-- fused at the shipped options: threshold --")
    for t in np.arange(0.25, 0.551, 0.025):
        print(line(f"threshold {t:.3f}", evaluate(all_scores, labels, o, "fused", float(t))))


def all_scores_for(docs: list[FaqDoc], texts: list[str], o: RetrievalOptions
                   ) -> list[Scores | None]:
    """Per utterance its scores against every entry (None: skipped as a filler)."""
    index = FaqIndex(docs, shared_embedder(), o)  # entry embeddings are cached by text
    return [index.scores(t) if worth_suggesting(t) else None for t in texts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faq", type=Path, default=default_file())
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    items = parse_file(args.faq)
    questions = [i.question for i in items]
    data = load_set(args.set, questions)
    texts = [t for t, _ in data]
    labels = [y for _, y in data]
    o = RetrievalOptions()
    docs = [FaqDoc(i, it.question, it.answer, it.tags) for i, it in enumerate(items)]
    t0 = time.perf_counter()
    FaqIndex(docs, shared_embedder(), o)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    all_scores = all_scores_for(docs, texts, o)
    per_query_ms = (time.perf_counter() - t0) / len(texts) * 1000
    n_pos = sum(y is not None for y in labels)
    print(f"{len(items)} FAQ entries, {len(data)} utterances ({n_pos} answerable, "
          f"{len(data) - n_pos} no-match); index built in {build_s:.2f} s (model load "
          f"included), {per_query_ms:.1f} ms per utterance")
    report: dict[str, Any] = {"entries": len(items), "utterances": len(data),
                              "answerable": n_pos, "options": o.__dict__,
                              "ms_per_utterance": round(per_query_ms, 1), "methods": {}}
    shipped = evaluate(all_scores, labels, o, "fused", o.threshold)
    print(line("fused (shipped)", shipped, f"threshold {o.threshold}"))
    report["methods"]["fused (shipped)"] = {**shipped, "threshold": o.threshold}
    for method in ("bm25", "embeddings", "fused"):
        t, m = best_threshold(all_scores, labels, o, method)
        print(line(f"{method} @fs≤10%", m, f"threshold {t}"))
        report["methods"][f"{method} @fs<=10%"] = {**m, "threshold": t}
    if args.sweep:
        sweep(docs, texts, labels, o)
    wrong = []
    for (text, y), s in zip(data, all_scores, strict=True):
        got = ranked_by(fuse(s, o), o.threshold) if s is not None else []
        if (y is None and got) or (y is not None and y not in got):
            wrong.append((text, questions[y] if y is not None else None,
                          [questions[i] for i in got]))
    print(f"\n{len(wrong)} utterances the shipped options get wrong:")
    for text, exp, got in wrong:
        print(f"  {text}\n      expected {exp}\n      got      {got}")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")


if __name__ == "__main__":
    main()
