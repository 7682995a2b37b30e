"""Peak memory of playing a 2-hour call through the web server.

Ingests one long recording (default: 2 h, 8 kHz stereo G.711 μ-law WAV, the usual
telephony recording; ``--codec flac`` for a 16 kHz stereo FLAC) into a fresh installation,
starts the web server in a child process (no pipeline workers), signs in as the call's
agent and, over real HTTP, plays it as a browser does: the whole body, then 50 seeks
(Range requests at random offsets, 256 KiB each), then two listeners at once. Printed:
the server's resident memory before playback and its peak during playback (sampled every
10 ms), their difference, and for comparison the same for transcoding the recording
whole in memory, as playback did before it streamed (``to_wav_pcm16``, still used for
codecs a browser cannot play).

Usage: python scripts/bench_playback.py [--minutes 120] [--codec ulaw|flac] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple 42"


def _recording(minutes: float, codec: str) -> bytes:
    rate = 8000 if codec == "ulaw" else 16000
    n = int(minutes * 60 * rate)
    buf = io.BytesIO()
    fmt, sub = ("WAV", "ULAW") if codec == "ulaw" else ("FLAC", "PCM_16")
    with sf.SoundFile(buf, "w", rate, 2, format=fmt, subtype=sub) as f:
        rng = np.random.default_rng(0)
        step = rate * 60
        for a in range(0, n, step):
            t = np.arange(a, min(n, a + step)) / rate
            f.write(np.stack([0.3 * np.sin(2 * np.pi * 440 * t),
                              0.05 * rng.standard_normal(len(t))], 1))
    return buf.getvalue()


def _rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """The highest resident set size of a process while the block runs (sampled every
    10 ms: peak RSS *during* playback, not the start-up peak that VmHWM would report)."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.baseline = _rss_kib(pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_kib(self.pid))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(home: Path, data: bytes) -> str:
    from rokuon.access.principal import Principal
    from rokuon.calls.ingest import ingest_stream
    from rokuon.calls.metadata import parse_metadata
    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime
    from rokuon.users.service import create_user, set_password

    os.environ["ROKUON_HOME"] = str(home)
    init_installation(load_settings(), "admin@example.com")
    rt = open_runtime(load_settings())
    try:
        cid = ingest_stream(rt, [data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)],
                            name="long.wav", actor=Principal.cli(), meta=parse_metadata(
                                '{"agent": "sato", "team": "A", "purposes": ["quality"]}'
                            )).call_id
        with rt.db.session() as s:
            user, _ = create_user(s, Principal.cli(), "sato@example.com", "operator", "A",
                                  "sato")
            set_password(s, user, PASSWORD)
        return cid
    finally:
        rt.close()


def _serve(port: int) -> None:
    import uvicorn

    from rokuon.config import load_settings
    from rokuon.install import open_runtime
    from rokuon.web.app import create_app

    rt = open_runtime(load_settings())
    uvicorn.run(create_app(rt, start_workers=False), host="127.0.0.1", port=port,
                log_level="warning")


def _transcode_peak(home: Path, cid: str) -> int:
    """Peak RSS (KiB) of a fresh process that transcodes the call whole, in memory."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from bench_playback import RssSampler\n"
        "from rokuon.config import load_settings\n"
        "from rokuon.install import open_runtime\n"
        "from rokuon.store.models import Call\n"
        "from rokuon.store.keys import WrappedKey\n"
        "from rokuon.engine.audio.playback import to_wav_pcm16\n"
        "rt = open_runtime(load_settings())\n"
        "with rt.db.session() as s:\n"
        f"    c = s.get(Call, {cid!r}); key, w = c.blob_key, c.wrapped_key\n"
        "with RssSampler() as m, rt.blobs.open(key, WrappedKey.from_json(w)) as r:\n"
        "    n = len(to_wav_pcm16(r))\n"
        "print(m.baseline, m.peak, n)\n")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ,
                         "ROKUON_HOME": str(home)}, capture_output=True, text=True, check=True)
    before, after, _ = (int(x) for x in out.stdout.split())
    return after - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--codec", choices=["ulaw", "flac"], default="ulaw")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        data = _recording(args.minutes, args.codec)
        cid = _setup(home, data)
        port = _free_port()
        env = {**os.environ, "ROKUON_HOME": str(home)}
        server = subprocess.Popen([sys.executable, __file__, "--serve-child", str(port)],
                                  env=env, cwd=ROOT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            c = httpx.Client(base_url=base, timeout=120)
            r = c.post("/login", data={"email": "sato@example.com", "password": PASSWORD})
            assert r.status_code == 303, r.text
            sampler = RssSampler(server.pid).__enter__()
            url = f"/api/calls/{cid}/audio?purpose=quality"
            t0 = time.perf_counter()
            total = 0
            with c.stream("GET", url) as resp:
                assert resp.status_code == 200, resp.status_code
                size = int(resp.headers["content-length"])
                for part in resp.iter_bytes():
                    total += len(part)
            full_s = time.perf_counter() - t0
            assert total == size
            rnd = random.Random(0)
            seek_times = []
            for _ in range(50):
                a = rnd.randrange(0, size - 1)
                t1 = time.perf_counter()
                r = c.get(url, headers={"Range": f"bytes={a}-{a + 262143}"})
                seek_times.append(time.perf_counter() - t1)
                assert r.status_code == 206

            def listen() -> None:
                with httpx.Client(base_url=base, cookies=c.cookies, timeout=120) as c2, \
                        c2.stream("GET", url) as resp2:
                    for _ in resp2.iter_bytes():
                        pass
            threads = [threading.Thread(target=listen) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sampler.__exit__()
            idle, after = sampler.baseline, sampler.peak
        finally:
            server.terminate()
            server.wait(30)
        whole = _transcode_peak(home, cid)
    seek_times.sort()
    result = {"recording": f"{args.minutes:g} min {args.codec} stereo",
              "stored_mb": round(len(data) / 2**20, 1), "served_mb": round(size / 2**20, 1),
              "server_rss_mb_before": round(idle / 1024, 1),
              "server_peak_rss_mb_during_playback": round(after / 1024, 1),
              "playback_added_mb": round((after - idle) / 1024, 1),
              "full_body_s": round(full_s, 2),
              "seek_p50_ms": round(1000 * seek_times[len(seek_times) // 2], 1),
              "seek_p95_ms": round(1000 * seek_times[int(len(seek_times) * 0.95)], 1),
              "whole_in_memory_transcode_added_mb": round(whole / 1024, 1)}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-child":
        _serve(int(sys.argv[2]))
    else:
        main()
