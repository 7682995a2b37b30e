"""Speed and memory of the pipeline against bare faster-whisper.

On the same recording (default: the longest corpus call, ~60 s, 8 kHz mu-law
stereo) and the same model and options (packaged Whisper base, int8, CPU,
language ja, VAD, word timestamps, beam 5):

- bare: a fresh Python process that loads WhisperModel, decodes the file with
  faster-whisper's own decoder (split_stereo) and transcribes both channels;
- pipeline: a fresh ``rokuon ingest --wait`` process in an empty installation:
  streaming encryption into the blob store, decoding from the encrypted blob,
  per-channel ASR with hallucination guards, analysis, indexing, all states in
  the database.

Both are timed end to end (process start to exit, model load included) as the
median of --repeat runs, plus peak RSS (ru_maxrss of the child), and the peak RSS
of ``ingest --wait`` on the mono version of the same call (ASR + diarization).
The overhead is (pipeline - bare) / bare.

Usage: python scripts/benchmark.py [--file WAV] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"

BARE = r"""
import sys, time
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio
model_dir, path, beam = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = WhisperModel(model_dir, device="cpu", compute_type="int8")
channels = decode_audio(path, sampling_rate=16000, split_stereo=True)
n = 0
for ch in channels:
    segs, _ = model.transcribe(ch, language="ja", vad_filter=True, word_timestamps=True,
                               beam_size=beam)
    n += sum(1 for _ in segs)
print(n)
"""


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> float:
    """Peak RSS of one command, measured in a fresh helper process."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],check=True,capture_output=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    if args.file:
        wav = args.file
    else:
        calls = [p for p in CORPUS.glob("*") if (p / "truth.json").exists()]
        longest = max(calls, key=lambda p: json.loads((p / "truth.json").read_text())[
            "duration_s"])
        wav = longest / "stereo.wav"

    from rokuon.engine.asr.model import resolve_model
    from rokuon.engine.audio.decode import decode

    work = Path(tempfile.mkdtemp(prefix="rokuon-bench-"))
    models = work / "models"
    model_dir = resolve_model("packaged", models)
    with wav.open("rb") as fh:
        duration = decode(fh).duration_s
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROKUON_")}
    env.update(ROKUON_MODELS_PATH=str(models), ROKUON_JOB_POLL_S="0.05")
    rokuon = [sys.executable, "-m", "rokuon.cli.main"]
    bare_cmd = [sys.executable, "-c", BARE, model_dir, str(wav), "5"]

    bare_t, pipe_t = [], []
    try:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(bare_cmd, env=env, check=True, capture_output=True)
            bare_t.append(time.perf_counter() - t0)
            home = work / f"home{i}"
            henv = {**env, "ROKUON_HOME": str(home)}
            subprocess.run([*rokuon, "init"], env=henv, check=True, capture_output=True)
            t0 = time.perf_counter()
            r = subprocess.run([*rokuon, "ingest", str(wav), "--wait"], env=henv,
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"ingest --wait failed ({r.returncode}):\n{r.stderr[-3000:]}")
            pipe_t.append(time.perf_counter() - t0)
            print(f"run {i + 1}: bare {bare_t[-1]:.2f} s, pipeline {pipe_t[-1]:.2f} s",
                  flush=True)
        home = work / "mem"
        henv = {**env, "ROKUON_HOME": str(home)}
        subprocess.run([*rokuon, "init"], env=henv, check=True, capture_output=True)
        pipe_mem = peak_rss_mib([*rokuon, "ingest", str(wav), "--wait"], henv)
        bare_mem = peak_rss_mib(bare_cmd, env)
        mono = wav.with_name("mono.wav")
        mono_mem = peak_rss_mib([*rokuon, "ingest", str(mono), "--wait"], henv) \
            if mono.exists() else None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare, pipe = statistics.median(bare_t), statistics.median(pipe_t)
    result = {
        "file": str(wav.relative_to(ROOT)) if wav.is_relative_to(ROOT) else str(wav),
        "audio_s": round(duration, 2), "repeat": args.repeat, "cpus": os.cpu_count(),
        "bare_s": round(bare, 2), "pipeline_s": round(pipe, 2),
        "overhead_pct": round(100 * (pipe - bare) / bare, 1),
        "bare_rtf": round(bare / duration, 3), "pipeline_rtf": round(pipe / duration, 3),
        "bare_peak_rss_mib": round(bare_mem), "pipeline_peak_rss_mib": round(pipe_mem),
        "pipeline_mono_peak_rss_mib": round(mono_mem) if mono_mem else None,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
