"""Per-call cost of the pipeline in a warm worker, against bare faster-whisper.

``scripts/benchmark.py`` times one-shot processes (``ingest --wait`` from process start
to exit), so its overhead includes what a worker pays once: interpreter start, model
load, GiNZA/Sudachi load. This measures what a running worker pays *per call*, in one
process with everything loaded:

- bare: faster-whisper's ``WhisperModel.transcribe`` on both channels of the call
  (vad_filter, word timestamps, beam 5, language ja), as its README shows it;
- pipeline: ``ingest`` of the recording into an installation (streaming encryption,
  sandboxed probe), then its jobs run in this process to ``indexed``: sandboxed decode
  from the encrypted blob, ASR with every rokuon addition (hallucination guards,
  deterministic retry, language second look, fillers, the reply second listen,
  vocabulary), analysis, PCI, indexing, every state in the database.

Both use the same CPU kernel family (rokuon pins AVX2 before the engine loads; the bare
model loads after, so it runs pinned too) and one warm-up call each. Each pipeline
call is the same audio with one sample changed by one LSB (ingest refuses an identical
recording as a duplicate). Wall and process CPU seconds per call, median of --repeat.

Usage: python scripts/bench_worker.py [--file WAV] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"
DEFAULT_CALL = "14_plan_change_long"


def _timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def _variant(wav: bytes, i: int) -> bytes:
    """The recording with the last byte changed by one (one LSB of one sample)."""
    return wav[:-1] + bytes([(wav[-1] + 1 + i) % 256])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=CORPUS / DEFAULT_CALL / "stereo.wav")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rokuon-bench-worker-"))
    os.environ["ROKUON_HOME"] = str(work / "home")
    os.environ.setdefault("ROKUON_MODELS_PATH", str(work / "models"))
    os.environ["ROKUON_JOB_POLL_S"] = "0.02"
    os.environ.pop("ROKUON_DATABASE_URL", None)

    from rokuon.access.principal import Principal
    from rokuon.calls.ingest import ingest_files
    from rokuon.config import load_settings
    from rokuon.engine.audio.decode import decode
    from rokuon.install import init_installation, open_runtime
    from rokuon.pipeline.executor import run_until_done

    init_installation(load_settings(), "bench@example.com")
    rt = open_runtime(load_settings())
    engine = rt.asr
    engine.model()  # pins the kernels and loads the pipeline's model
    from faster_whisper import WhisperModel

    bare = WhisperModel(engine._model_path, device="cpu", compute_type="int8")
    with args.file.open("rb") as fh:
        audio = decode(fh)
    channels = [ch for ch in audio.channels]
    seconds = audio.duration_s

    def run_bare() -> None:
        for ch in channels:
            segs, _ = bare.transcribe(ch, language="ja", vad_filter=True,
                                      word_timestamps=True, beam_size=5)
            list(segs)

    raw = args.file.read_bytes()

    def run_pipeline(i: int) -> None:
        path = work / f"call{i}.wav"
        path.write_bytes(_variant(raw, i))
        [res] = ingest_files(rt, [path], actor=Principal.cli())
        if not res.call_id:
            sys.exit(f"ingest refused the recording: {res}")
        run_until_done(rt, [res.call_id], timeout_s=900)

    run_bare()  # warm-up: first decode allocates
    run_pipeline(-1)  # warm-up: GiNZA, Sudachi, the analysis engines load once
    bare_runs, pipe_runs = [], []
    for i in range(args.repeat):
        bare_runs.append(_timed(run_bare))
        pipe_runs.append(_timed(lambda i=i: run_pipeline(i)))
        print(f"run {i + 1}: bare {bare_runs[-1][0]:.2f} s / cpu {bare_runs[-1][1]:.2f} s, "
              f"pipeline {pipe_runs[-1][0]:.2f} s / cpu {pipe_runs[-1][1]:.2f} s", flush=True)

    def med(runs: list[tuple[float, float]], k: int) -> float:
        return statistics.median(r[k] for r in runs)

    ch_s = seconds * len(channels)
    result = {
        "file": str(args.file.relative_to(ROOT)) if args.file.is_relative_to(ROOT)
        else str(args.file),
        "audio_s": round(seconds, 2), "channels": len(channels), "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "bare": {"wall_s": round(med(bare_runs, 0), 2), "cpu_s": round(med(bare_runs, 1), 2),
                 "rtf_per_channel_s": round(med(bare_runs, 0) / ch_s, 3)},
        "pipeline": {"wall_s": round(med(pipe_runs, 0), 2),
                     "cpu_s": round(med(pipe_runs, 1), 2),
                     "rtf_per_channel_s": round(med(pipe_runs, 0) / ch_s, 3)},
    }
    for k, key in ((0, "wall"), (1, "cpu")):
        result[f"overhead_{key}_pct"] = round(
            100 * (med(pipe_runs, k) - med(bare_runs, k)) / med(bare_runs, k), 1)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    rt.close()
    os._exit(0)  # as the CLI does: CTranslate2 and torch may abort at interpreter exit


if __name__ == "__main__":
    sys.exit(main())
