"""VOC topic evaluation on labelled calls (rokuon.reports.synthetic_voc).

Seeds, through the app's own storage layer in a fresh SQLite installation, calls of
five known topics (請求, 解約, 配送, ログイン, 故障) phrased many ways, with the talk
every call has and — in a share of calls — a second topic in passing: ``--per-topic``
calls per topic in the period, and in the week before it the same except that
cancellations are a third as many (so the report must show them rising). Then runs
``rokuon.reports.topics`` as the admin and prints, for the default number of topics
and for exactly five: NMI and purity of the calls' topics against the truth, each
topic's label and majority truth, the change of the cancellation topic, whether any
customer name reached a label, and the time taken (first run, which tokenises every
call, and again, from the terms kept per transcript).

Usage: python scripts/evaluate_topics.py [--per-topic 40] [--seed 3] [--aside-share 0.3]
       [--misheard 0.0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
SINCE, UNTIL = "2025-03-10", "2025-03-16"


def _seed(rt: Any, per_topic: int, seed: int, aside: float, misheard: float
          ) -> tuple[dict[str, str], int]:
    """truth (call id → topic) and the true change of cancellation calls."""
    from rokuon.reports.synthetic import add_call, add_transcript
    from rokuon.reports.synthetic_voc import labelled_calls

    rng = random.Random(seed)
    truth: dict[str, str] = {}
    current = labelled_calls(rng, per_topic, aside_share=aside, misheard=misheard)
    previous = [c for c in labelled_calls(rng, per_topic, aside_share=aside,
                                          misheard=misheard)
                if c[0] != "cancellation" or rng.random() < 1 / 3]
    with rt.db.session() as s:
        for offset, calls in ((0, current), (-7, previous)):
            for i, (topic, utterances) in enumerate(calls):
                start = datetime(2025, 3, 10, 9, tzinfo=JST) + timedelta(
                    days=offset + i % 7, minutes=i % 600)
                cid = add_call(s, started_at=start, duration_s=120, agent=f"a{i % 5}")
                add_transcript(s, cid, utterances)
                truth[cid] = topic
    change = sum(1 for t, _ in current if t == "cancellation") - \
        sum(1 for t, _ in previous if t == "cancellation")
    return truth, change


def _score(rep: Any, truth: dict[str, str]) -> dict[str, Any]:
    from sklearn.metrics import normalized_mutual_info_score

    # every call of the period in a topic (members are not in the contract: recompute)
    assigned: dict[str, int] = {}
    rows = []
    for r in rep.rows:
        rows.append({"topic_id": r["topic_id"], "label": r["label"], "calls": r["calls"],
                     "previous": r["previous"], "change": r["change"]})
        for cid in r.get("members", []):
            assigned[cid] = r["topic_id"]
    ids = [c for c in assigned if c in truth]
    t = [truth[c] for c in ids]
    p = [assigned[c] for c in ids]
    majority = {}
    correct = 0
    for topic in {x for x in p}:
        cnt = Counter(tt for tt, pp in zip(t, p, strict=True) if pp == topic)
        label, n = cnt.most_common(1)[0]
        majority[topic] = label
        correct += n
    for r in rows:
        r["truth"] = majority.get(r["topic_id"])
    cancel = [r for r in rows if r["truth"] == "cancellation"]
    return {"nmi": round(normalized_mutual_info_score(t, p), 3) if ids else 0.0,
            "purity": round(correct / len(ids), 3) if ids else 0.0,
            "calls_assigned": len(ids), "topics": rows,
            "cancellation_change": sum(r["change"] for r in cancel)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-topic", type=int, default=40)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--aside-share", type=float, default=0.3,
                    help="share of calls that mention a second topic in passing")
    ap.add_argument("--misheard", type=float, default=0.0,
                    help="chance that a key word is written as a recogniser misheard it "
                         "(解約 → 開約 …)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="rokuon-topics-")
    os.environ["ROKUON_HOME"] = home
    os.environ.pop("ROKUON_DATABASE_URL", None)
    from rokuon.access.principal import Principal
    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime
    from rokuon.reports import topics
    from rokuon.reports.period import parse_period
    from rokuon.reports.synthetic_voc import NAMES

    init_installation(load_settings(), "root@example.com")
    rt = open_runtime(load_settings())
    truth, true_change = _seed(rt, args.per_topic, args.seed, args.aside_share, args.misheard)
    period = parse_period(SINCE, UNTIL, "Asia/Tokyo")
    admin = Principal(name="root@example.com", role="admin")
    out: dict[str, Any] = {"calls": len(truth), "true_cancellation_change": true_change,
                           "runs": {}}
    for k in (None, 5):
        t0 = time.perf_counter()
        with rt.db.session() as s:
            rep = topics.compute(s, admin, period, topics=k, with_members=True)
        took = time.perf_counter() - t0
        res = _score(rep, truth)
        res["seconds"] = round(took, 2)
        res["name_in_label"] = any(n in term for r in rep.rows for term in r["terms"]
                                   for n in NAMES)
        out["runs"]["default" if k is None else str(k)] = res
        print(f"topics={len(rep.rows)} ({'default' if k is None else k}): "
              f"NMI {res['nmi']}  purity {res['purity']}  "
              f"calls {res['calls_assigned']}/{len(truth)}  {took:.2f} s  "
              f"cancellation change {res['cancellation_change']:+d} (true {true_change:+d})  "
              f"name in a label: {res['name_in_label']}")
        for r in res["topics"]:
            print(f"  {r['topic_id']:>2} {r['label']:<24} {r['calls']:>4} "
                  f"(before {r['previous']:>3}, {r['change']:+d})  truth: {r['truth']}")
    t0 = time.perf_counter()
    with rt.db.session() as s:
        topics.compute(s, admin, period)
    out["seconds_again"] = round(time.perf_counter() - t0, 2)
    print(f"again (each call's terms kept from the first run): {out['seconds_again']:.2f} s")
    rt.close()
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    raise SystemExit(main())
