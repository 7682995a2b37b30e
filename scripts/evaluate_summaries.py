"""Call summaries against hand-written references (tests/data/summaries.json).

For each reference call, the summary analyzer runs (with the analyzers before it) on
the call's labelled transcript (truth.json: the words said, no speech recognition) and
is compared with the reference: character ROUGE-L F1 of the summary (punctuation and
spaces left out), the same for the minutes' 用件 (purpose), and whether the promised
date (約束した期日) is the reference's. A lead baseline (the call's first three
sentences that are not routine phrases) is printed beside it.

Usage: python scripts/evaluate_summaries.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def _chars(text: str) -> str:
    return re.sub(r"[\s、。，．,.！？!?「」・]", "", text or "")


def rouge_l(candidate: str, reference: str) -> float:
    a, b = _chars(candidate), _chars(reference)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from rokuon.engine.analysis import run_all
    from rokuon.engine.analysis.context import CallInput
    from rokuon.engine.analysis.summary import ROUTINE, _sentences
    from rokuon.engine.types import Segment

    refs = {k: v for k, v in json.loads(
        (ROOT / "tests/data/summaries.json").read_text("utf-8")).items()
        if not k.startswith("_")}
    rows: list[dict[str, Any]] = []
    for call_id, ref in refs.items():
        truth = json.loads((ROOT / "tests/data/calls" / call_id / "truth.json").read_text(
            "utf-8"))
        segs = [Segment(u["speaker"], u["start"], u["end"], u["text"])
                for u in truth["utterances"]]
        got = run_all(CallInput(segments=segs, duration_s=truth["duration_s"]))["summary"][1]
        lead = "".join(t for _, _, t in
                       [s for s in _sentences(segs) if not ROUTINE.search(s[2])][:3])
        rows.append({"call_id": call_id,
                     "rouge_l": round(rouge_l(got["text"], ref["summary"]), 3),
                     "lead_rouge_l": round(rouge_l(lead, ref["summary"]), 3),
                     "purpose_rouge_l": round(rouge_l(got["minutes"]["purpose"] or "",
                                                      ref["purpose"]), 3),
                     "due_ok": got["minutes"]["due"] == ref["due"],
                     "summary": got["text"], "minutes": got["minutes"]})
    n = len(rows)
    mean = {k: round(sum(r[k] for r in rows) / n, 3)
            for k in ("rouge_l", "lead_rouge_l", "purpose_rouge_l")}
    for r in rows:
        print(f"{r['call_id']:<28} ROUGE-L {r['rouge_l']:.3f} (lead {r['lead_rouge_l']:.3f})  "
              f"用件 {r['purpose_rouge_l']:.3f}  期日 {'ok' if r['due_ok'] else 'wrong'}")
    print(f"mean over {n} calls: ROUGE-L {mean['rouge_l']:.3f} (lead baseline "
          f"{mean['lead_rouge_l']:.3f}), 用件 {mean['purpose_rouge_l']:.3f}, 期日 "
          f"{sum(r['due_ok'] for r in rows)}/{n}")
    if args.json:
        args.json.write_text(json.dumps({"mean": mean, "calls": rows}, ensure_ascii=False,
                                        indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
