"""Speed and memory of the pipeline against bare faster-whisper.

On the same recording (default: corpus call 14, 67.6 s, 8 kHz mu-law stereo) and
the same model and options (packaged Whisper base, int8, CPU,
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

Variants: ``bare`` (faster-whisper with this CPU's fastest kernels), ``bare_pinned``
(the same with the kernel family rokuon pins for reproducibility, see docs/asr.md),
``pipeline`` (defaults, domain vocabulary on) and ``pipeline_no_vocabulary``. Wall and
CPU seconds are reported (CPU time stays comparable when other work shares the cores),
per channel-second as well.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "calls"
DEFAULT_CALL = "14_plan_change_long"  # 67.6 s of two-party talk, stereo

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


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS of one command, run from a
    fresh helper process (CPU time stays meaningful when other work shares the cores)."""
    code = ("import json,resource,subprocess,sys,time;t=time.perf_counter();"
            "r=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(json.dumps({'rc':r.returncode,'wall':w,'cpu':u.ru_utime+u.ru_stime,"
            "'rss':u.ru_maxrss/1024,'err':r.stderr[-2000:]}))")
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True,
                         text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        sys.exit(f"{' '.join(cmd[:4])}… failed ({res['rc']}):\n{res['err']}")
    return res


PINNED = {"CT2_USE_MKL": "0", "CT2_FORCE_CPU_ISA": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
          "DNNL_MAX_CPU_ISA": "AVX2"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    wav = args.file or CORPUS / DEFAULT_CALL / "stereo.wav"

    from rokuon.engine.asr.model import resolve_model
    from rokuon.engine.audio.decode import decode

    work = Path(tempfile.mkdtemp(prefix="rokuon-bench-"))
    models = work / "models"
    model_dir = resolve_model("packaged", models)
    with wav.open("rb") as fh:
        audio = decode(fh)
    duration, n_channels = audio.duration_s, len(audio.channels)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ROKUON_") and k not in PINNED}
    env.update(ROKUON_MODELS_PATH=str(models), ROKUON_JOB_POLL_S="0.05")
    rokuon = [sys.executable, "-m", "rokuon.cli.main"]
    bare_cmd = [sys.executable, "-c", BARE, model_dir, str(wav), "5"]
    variants = {
        "bare": (bare_cmd, env),
        "bare_pinned": (bare_cmd, {**env, **PINNED}),
        "pipeline": (None, env),
        "pipeline_no_vocabulary": (None, {**env, "ROKUON_ASR_HOTWORDS": "false"}),
    }
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    try:
        for i in range(args.repeat):
            for name, (cmd, venv) in variants.items():
                if cmd is None:
                    home = work / f"{name}{i}"
                    venv = {**venv, "ROKUON_HOME": str(home)}
                    subprocess.run([*rokuon, "init"], env=venv, check=True, capture_output=True)
                    cmd = [*rokuon, "ingest", str(wav), "--wait"]
                runs[name].append(measure(cmd, venv))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]['wall']:.2f} s / cpu "
                                               f"{v[-1]['cpu']:.2f} s" for k, v in runs.items()),
                  flush=True)
        mono = wav.with_name("mono.wav")
        mono_mem = None
        if mono.exists():
            henv = {**env, "ROKUON_HOME": str(work / "mono")}
            subprocess.run([*rokuon, "init"], env=henv, check=True, capture_output=True)
            mono_mem = measure([*rokuon, "ingest", str(mono), "--wait"], henv)["rss"]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    ch_s = duration * n_channels
    result: dict[str, object] = {
        "file": str(wav.relative_to(ROOT)) if wav.is_relative_to(ROOT) else str(wav),
        "audio_s": round(duration, 2), "channels": n_channels, "repeat": args.repeat,
        "cpus": os.cpu_count(),
    }
    for name in variants:
        result[name] = {"wall_s": round(med(name, "wall"), 2), "cpu_s": round(med(name, "cpu"), 2),
                        "rtf_per_channel_s": round(med(name, "wall") / ch_s, 3),
                        "cpu_per_channel_s": round(med(name, "cpu") / ch_s, 3),
                        "peak_rss_mib": round(max(r["rss"] for r in runs[name]))}
    for base in ("bare", "bare_pinned"):
        for key in ("wall", "cpu"):
            result[f"overhead_{key}_vs_{base}_pct"] = round(
                100 * (med("pipeline", key) - med(base, key)) / med(base, key), 1)
    result["pipeline_mono_peak_rss_mib"] = round(mono_mem) if mono_mem else None
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
