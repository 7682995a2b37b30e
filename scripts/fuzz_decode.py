"""A long fuzzing campaign for the sandboxed decoder, and its per-file cost.

Runs the fuzz target of tests/engine/test_fuzz_decode.py (mutated WAV PCM16 / μ-law /
WAVE_FORMAT_EXTENSIBLE, MP3, OGG/Opus, FLAC and M4A recordings through the sandboxed
ingest check and full decode) for ``--examples`` cases and prints how many ran, the
outcomes (decoded, or which AudioError) and the time taken. Cases are derandomized:
the same number of examples gives the same cases. A failing case stops the run and is
printed by hypothesis (the smallest reproduction it found).

``--overhead`` instead measures what the sandbox costs per decode of a short recording:
CPU seconds of this process, of the fork server and of the children it forked (the
kernel's accounts of the fork server and its reaped children), against decoding in
this process.

Usage: python scripts/fuzz_decode.py [--examples 20000] [--json OUT]
       python scripts/fuzz_decode.py --overhead [--runs 50]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_of(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` (itself and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def overhead(runs: int) -> dict[str, Any]:
    import multiprocessing.forkserver

    from rokuon.engine.audio import decode as plain
    from rokuon.engine.audio import sandbox
    from tests.helpers import tone_wav

    data = tone_wav(10.0, seed=1)  # 10 s, 8 kHz stereo μ-law: a short call
    sandbox.decode(io.BytesIO(data))  # starts the fork server
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    assert server is not None
    out: dict[str, Any] = {"file": "10 s 8 kHz stereo mu-law WAV", "runs": runs}
    for name, fn in (("in_process", plain.decode), ("sandboxed", sandbox.decode)):
        cpu0, srv0, t0 = _cpu_self(), _cpu_of(server), time.perf_counter()
        for _ in range(runs):
            fn(io.BytesIO(data))
        cpu1, srv1, t1 = _cpu_self(), _cpu_of(server), time.perf_counter()
        out[name] = {"cpu_s_per_decode": round((cpu1 - cpu0 + srv1 - srv0) / runs, 4),
                     "of_which_children_s": round((srv1 - srv0) / runs, 4),
                     "wall_s_per_decode": round((t1 - t0) / runs, 4)}
    out["overhead_cpu_s"] = round(out["sandboxed"]["cpu_s_per_decode"]
                                  - out["in_process"]["cpu_s_per_decode"], 4)
    out["overhead_wall_s"] = round(out["sandboxed"]["wall_s_per_decode"]
                                   - out["in_process"]["wall_s_per_decode"], 4)
    return out


def campaign(examples: int) -> dict[str, Any]:
    os.environ["ROKUON_FUZZ_EXAMPLES"] = str(examples)
    from tests.engine import test_fuzz_decode as fz

    fz.test_seeds_are_valid_and_decode()
    fz.OUTCOMES.clear()
    start = time.monotonic()
    failure = None
    try:
        fz.test_mutated_recordings_decode_or_fail_cleanly()
    except BaseException as exc:  # noqa: BLE001 - report what ran, then the failure
        failure = f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - start
    cases = sum(fz.OUTCOMES.values())
    return {"cases": cases, "seconds": round(elapsed, 1),
            "cases_per_s": round(cases / elapsed, 1) if elapsed else None,
            "outcomes": dict(fz.OUTCOMES.most_common()), "failure": failure}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=20000)
    ap.add_argument("--overhead", action="store_true")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.overhead:
        result = overhead(args.runs)
        print(json.dumps(result, indent=2))
    else:
        result = campaign(args.examples)
        print(f"cases run: {result['cases']} in {result['seconds']} s "
              f"({result['cases_per_s']} cases/s)")
        for outcome, n in result["outcomes"].items():
            print(f"{n:8d}  {outcome}")
        if result["failure"]:
            print(f"FAILED: {result['failure']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result.get("failure") else 0


if __name__ == "__main__":
    sys.exit(main())
