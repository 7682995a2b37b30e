"""Sandboxed decoding: limits stop hostile decoders, results come back intact, any
failure is a one-line AudioError and the parent survives."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.config import ConfigError, Settings, load_settings
from rokuon.engine.audio import decode as plain
from rokuon.engine.audio import redact, sandbox
from rokuon.engine.audio.sandbox import Limits
from rokuon.engine.types import AudioError
from rokuon.store.models import Call
from tests.helpers import tone_wav

WAV = tone_wav(1.0, seed=3)


# ---- test-only decoders (module level: the child imports them by name) ----------------

def burn_cpu(src: Any) -> None:
    while True:
        pass


def allocate(src: Any) -> int:
    return int(np.ones(8 << 30, np.uint8).sum())  # 8 GiB


def sleep(src: Any, **kwargs: Any) -> None:
    time.sleep(120)


def segfault(src: Any, **kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(10)


def exit_quietly(src: Any) -> None:
    os._exit(3)


def raise_bug(src: Any) -> None:
    raise RuntimeError("boom\nsecond line")


def read_all(src: Any) -> bytes:
    src.seek(0, 2)
    size = src.tell()
    src.seek(10)
    head = src.read(5)
    src.seek(0)
    return head + src.read() + bytes([size % 256])


def long_recording_then_sleep(src: Any) -> str:
    assert plain.progress_hook is not None
    plain.progress_hook(600.0, 2)  # a 10-minute header: more time
    time.sleep(4.0)
    return "done"


def allocate_150mb(src: Any) -> int:
    return int(np.ones(150 << 20, np.uint8).sum() > 0)


def long_recording_then_allocate(src: Any) -> int:
    assert plain.progress_hook is not None
    plain.progress_hook(600.0, 2)  # 10 minutes of 16 kHz stereo: about 220 MB more
    return allocate_150mb(src)


def garbage_reply(src: Any) -> None:
    src.conn.send_bytes(b"\x80\x04not json")
    time.sleep(10)


def oversized_array(src: Any) -> None:
    src.conn.send_bytes(json.dumps({"op": "result", "value": {
        "$": "ndarray", "dtype": "<f4", "shape": [1 << 40]}}).encode())
    time.sleep(10)


def object_array(src: Any) -> None:
    src.conn.send_bytes(json.dumps({"op": "result", "value": {
        "$": "ndarray", "dtype": "|O", "shape": [1]}}).encode())
    time.sleep(10)


def whoami(src: Any) -> int:
    return os.getpid()


# ---- limits ---------------------------------------------------------------------------

def test_cpu_limit_stops_a_spinning_decoder() -> None:
    start = time.monotonic()
    with pytest.raises(AudioError, match=r"^decoding stopped: used more than 1 s of CPU$"):
        sandbox.run(burn_cpu, io.BytesIO(WAV), Limits(cpu_s=1, wall_s=60))
    assert time.monotonic() - start < 30


def test_memory_limit_stops_a_greedy_decoder() -> None:
    with pytest.raises(AudioError, match=r"^decoding stopped: used more than 128 MB of memory$"):
        sandbox.run(allocate, io.BytesIO(WAV), Limits(memory_mb=128))


def test_wall_clock_limit_kills_a_sleeping_decoder() -> None:
    start = time.monotonic()
    with pytest.raises(AudioError, match=r"^decoding stopped: took longer than 1 s$"):
        sandbox.run(sleep, io.BytesIO(WAV), Limits(wall_s=1.0))
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("fn, message", [
    (segfault, r"^decoder crashed \(signal 11, SIGSEGV\)$"),
    (exit_quietly, r"^decoder exited without a result \(exit code 3\)$"),
    (raise_bug, r"^decoder failed: RuntimeError: boom second line$"),
    (garbage_reply, r"^decoder sent a malformed reply$"),
    (oversized_array, r"^decoder sent a malformed reply$"),
    (object_array, r"^decoder sent a malformed reply$"),
])
def test_failures_become_one_line_audio_errors(fn: Any, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        sandbox.run(fn, io.BytesIO(WAV), Limits(wall_s=20))
    # the parent is fine and the next job works
    assert sandbox.decode(io.BytesIO(WAV)).info.channels == 2


def test_budgets_grow_with_the_declared_length() -> None:
    limits = Limits(wall_s=3.0, wall_s_per_audio_min=1.0)  # 3 s, then 13 s
    assert sandbox.run(long_recording_then_sleep, io.BytesIO(WAV), limits) == "done"
    assert limits.cpu_for(7200) == 10 + 3 * 120 and limits.cpu_for(1e9) == limits.cpu_for(7200)
    assert Limits().wall_for(7200) == 30 + 6 * 120


def test_memory_grows_with_the_declared_length() -> None:
    limits = Limits(memory_mb=64)
    with pytest.raises(AudioError, match="more than 64 MB of memory"):
        sandbox.run(allocate_150mb, io.BytesIO(WAV), limits, output_rate=16_000)
    assert sandbox.run(long_recording_then_allocate, io.BytesIO(WAV), limits,
                       output_rate=16_000) == 1


def test_jobs_from_several_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = tone_wav(2.0, seed=5)
    want = plain.decode(io.BytesIO(data)).channels[0]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: sandbox.decode(io.BytesIO(data)), range(8)))
    for r in results:
        np.testing.assert_array_equal(r.channels[0], want)


def test_a_failing_source_is_not_blamed_on_the_file() -> None:
    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise RuntimeError("blob integrity check failed")

    with pytest.raises(RuntimeError, match="integrity"):
        sandbox.decode(Broken(WAV))


def test_disabled_runs_in_process() -> None:
    assert sandbox.run(whoami, io.BytesIO(WAV), Limits(enabled=False)) == os.getpid()
    assert sandbox.run(whoami, io.BytesIO(WAV)) != os.getpid()


# ---- results --------------------------------------------------------------------------

def test_results_are_identical_to_decoding_in_process() -> None:
    data = tone_wav(2.5, sr=16000, subtype="PCM_16", seed=4)
    want, got = plain.decode(io.BytesIO(data)), sandbox.decode(io.BytesIO(data))
    assert got.info == want.info and len(got.channels) == 2
    for a, b in zip(got.channels, want.channels, strict=True):
        assert a.dtype == np.float32 and a.flags.writeable
        np.testing.assert_array_equal(a, b)
    assert sandbox.validate(io.BytesIO(data)) == plain.validate(io.BytesIO(data))
    assert sandbox.probe(io.BytesIO(data)) == plain.probe(io.BytesIO(data))
    (s1, r1), (s2, r2) = redact.decode_native(io.BytesIO(data)), \
        sandbox.decode_native(io.BytesIO(data))
    assert r1 == r2 and s1.shape == s2.shape
    np.testing.assert_array_equal(s1, s2)
    big = os.urandom(3 << 20)  # more than one read-ahead block, with seeks
    assert sandbox.run(read_all, io.BytesIO(big)) == big[10:15] + big + bytes([len(big) % 256])


def test_same_errors_as_without_the_sandbox() -> None:
    cut = tone_wav(4.0, seed=2)[:5000]
    for bad in (b"", b"RIFF" + b"\0" * 100, cut, tone_wav(1.0, channels=3, seed=1)):
        with pytest.raises(AudioError) as want:
            plain.validate(io.BytesIO(bad))
        with pytest.raises(AudioError) as got:
            sandbox.validate(io.BytesIO(bad))
        assert str(got.value) == str(want.value)


# ---- configuration and call sites -----------------------------------------------------

def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, decode_cpu_s=5, decode_memory_mb=256, max_duration_s=600)
    lim = s.decode_limits
    assert lim.enabled and lim.cpu_s == 5 and lim.memory_mb == 256 and lim.max_audio_s == 600
    assert not Settings(home=tmp_path, decode_sandbox=False).decode_limits.enabled
    (tmp_path / "config.toml").write_text("decode_memory_mb = 8\n")
    with pytest.raises(ConfigError, match="decode_memory_mb"):
        load_settings(home=tmp_path)


def test_hostile_file_at_ingest_leaves_no_call_and_no_blob(rt, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "hostile.wav"
    p.write_bytes(tone_wav(1.0, seed=21))
    monkeypatch.setattr(plain, "validate", segfault)  # this file crashes the decoder
    [res] = ingest_files(rt, [p], actor=Principal.cli())
    assert res.status == "error" and "hostile.wav" in res.error
    assert "decoder crashed (signal 11" in res.error
    monkeypatch.setattr(plain, "validate", sleep)  # this one hangs it
    rt.settings.decode_timeout_s = 1.0
    [res] = ingest_files(rt, [p], actor=Principal.cli())
    assert res.status == "error" and "took longer than 1 s" in res.error
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0
    assert list(rt.blobs.keys()) == []
