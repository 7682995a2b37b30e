"""Latency of live transcription: how soon after a party stops speaking its text is on
the board, with N calls streaming at once at real-time pace.

Each call is a corpus stereo call (default: 01, 04 and 05 in turn) fed into a live
session in 20 ms frames at real-time pace, with the real model (packaged Whisper base,
the installation's defaults: pinned kernels, beam 5). Reported per run:

- final latency: from the end of an utterance's speech (its last voiced frame) to its
  final text — this includes the endpointer's wait for the pause (0.5 s);
- partials decoded and partials dropped (superseded or skipped under load: audio is
  never dropped);
- whether the run kept up (p95 ≤ 3 s).

``--scan`` runs 1, 2, 3 … calls until p95 passes 3 s and prints the largest count that
kept up: the concurrency this machine sustains.

Usage: python scripts/bench_live.py [--calls 2] [--scan] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"
CALLS = ["01_billing_inquiry", "04_abusive_complaint", "05_churn"]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def run(n_calls: int, rt) -> dict:  # type: ignore[no-untyped-def]
    from rokuon.access.principal import Principal
    from rokuon.calls.metadata import CallMetadata
    from rokuon.live.hub import LiveHub
    from rokuon.live.session import LiveSession
    from rokuon.live.transcriber import Endpointer

    hub = LiveHub(rt).start()
    assert hub.transcriber is not None
    tail_s = Endpointer().end_frames / 50  # the pause the endpointer waits for
    sessions = []
    audios = []
    for i in range(n_calls):
        audio, rate = sf.read(CORPUS / CALLS[i % len(CALLS)] / "stereo.wav", dtype="int16",
                              always_2d=True)
        s = LiveSession(rt, source="ws", meta=CallMetadata.model_validate(
            {"agent": f"bench{i}", "channels": ["agent", "customer"]}), rate=rate,
            channels=2, actor=Principal.cli())
        hub.opened(s)
        sessions.append((s, rate))
        audios.append(audio)

    def stream(k: int) -> None:
        s, rate = sessions[k]
        audio, step = audios[k], rate // 50
        t0 = time.monotonic()
        for j, i in enumerate(range(0, len(audio), step)):
            s.write(np.ascontiguousarray(audio[i:i + step]).tobytes())
            delay = t0 + (j + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    cpu0 = time.process_time()
    t0 = time.monotonic()
    threads = [threading.Thread(target=stream, args=(k,)) for k in range(n_calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    streamed = time.monotonic() - t0
    deadline = time.monotonic() + 300
    while not hub.transcriber.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    for s, _ in sessions:
        s.finish()
    hub.stop()
    stats = hub.transcriber.stats
    lat = [x + tail_s for x in stats["latencies"]]  # from the end of speech
    return {"calls": n_calls, "audio_s_per_call": round(statistics.mean(
                len(a) / sessions[i][1] for i, a in enumerate(audios)), 1),
            "streamed_s": round(streamed, 1), "cpu_s": round(time.process_time() - cpu0, 1),
            "finals": stats["finals"], "batches": stats.get("batches", 0),
            "partials": stats["partials"],
            "partials_dropped": stats["partials_dropped"],
            "final_latency_p50_s": round(_pct(lat, 0.5), 2),
            "final_latency_p95_s": round(_pct(lat, 0.95), 2),
            "final_latency_max_s": round(max(lat), 2) if lat else None,
            "kept_up": bool(lat) and _pct(lat, 0.95) <= 3.0,
            "batches_detail (clips, audio s, decode s)": stats.get("decode_s", [])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ROKUON_HOME"] = str(Path(tmp) / "home")
        init_installation(load_settings(), "admin@example.com")
        rt = open_runtime(load_settings())
        rt.asr.model()  # load before timing
        counts = range(1, 9) if args.scan else [args.calls]
        for n in counts:
            r = run(n, rt)
            results.append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
            if args.scan and not r["kept_up"]:
                break
        rt.close()
    kept = [r["calls"] for r in results if r["kept_up"]]
    summary = {"runs": results, "sustained_calls": max(kept) if kept else 0,
               "cpus": os.cpu_count()}
    print(json.dumps({"sustained_calls": summary["sustained_calls"],
                      "cpus": summary["cpus"]}))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
