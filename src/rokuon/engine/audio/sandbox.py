"""Decode untrusted recordings in a child process with resource limits.

FFmpeg parses whatever a caller uploads. A hostile or broken file must not hang or
crash the server, which (in the embedded default) also runs the pipeline workers. So
every probe and decode of a recording runs in a child process:

- forked from a *forkserver* (the server is multi-threaded: uvicorn, CTranslate2, so a
  plain fork of it is unsafe, and spawning a fresh interpreter per file is slow); the
  fork server has ``av``, ``numpy`` and the decoders imported already;
- with ``RLIMIT_CPU`` (CPU seconds) and ``RLIMIT_AS`` (address space), and a wall-clock
  limit enforced by the parent, which kills the child when it expires; all three grow
  with the length of the recording (the child reports the header's duration and, while
  decoding, how far it got), up to what the longest allowed recording needs;
- without core dumps (a dump would hold plaintext audio);
- reading the source through the pipe from the parent (the child gets no file and no
  key; the parent serves byte ranges from its seekable source, e.g. the decrypting blob
  reader), and sending the result back as JSON plus raw array bytes: the parent never
  unpickles anything the child wrote.

Every failure becomes an ``AudioError`` with a one-line message: the decoder's own
(the same as without the sandbox) or what stopped it ("decoding stopped: used more than
N s of CPU", "… more than N MB of memory", "… took longer than N s", "decoder crashed
(signal 11, SIGSEGV)"). Only a failure of the source itself (e.g. a blob that fails its
integrity check) propagates unchanged.

Pure engine code: nothing here knows the configuration; callers pass ``Limits``.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.spawn
import multiprocessing.util
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any, BinaryIO, TypeVar

import numpy as np

from rokuon.engine.audio import decode as _decode
from rokuon.engine.types import ENGINE_SAMPLE_RATE, AudioError, AudioInfo, DecodedAudio

T = TypeVar("T")

# imported once in the fork server, so that each job's child starts with them loaded
PRELOAD = ["av", "numpy", "rokuon.engine.audio.decode", "rokuon.engine.audio.redact",
           "rokuon.engine.audio.sandbox"]
READ_AHEAD = 1 << 20  # bytes the child asks for at once
MAX_READ = 16 << 20  # the most the parent sends for one request
MAX_MESSAGE = 1 << 20  # control messages (JSON) are small
# the decoded audio may exist about three times over while a job builds its result
# (buffer growth, concatenation, a transposed copy)
MEMORY_COPIES = 3
NATIVE_MAX_RATE = 48_000  # redact.decode_native keeps the source rate up to this
_ENOMEM = "Cannot allocate memory"
_RESULT_DTYPES = set("fiub")  # numeric arrays only


@dataclass(frozen=True)
class Limits:
    """Budgets of one sandboxed job. A job may use ``cpu_s`` CPU seconds and
    ``wall_s`` seconds of wall-clock time for any file, plus the ``*_per_audio_min``
    amounts per minute of audio (the larger of the declared and the decoded length,
    capped at ``max_audio_s``), and ``memory_mb`` of memory on top of the decoded audio
    itself and of what the child has loaded when it starts."""

    enabled: bool = True  # False: run in this process (debugging only)
    cpu_s: float = 10.0
    cpu_s_per_audio_min: float = 3.0
    memory_mb: int = 512
    wall_s: float = 30.0
    wall_s_per_audio_min: float = 6.0
    max_audio_s: float = 2 * 3600.0

    def _minutes(self, audio_s: float) -> float:
        return max(0.0, min(audio_s, self.max_audio_s)) / 60.0

    def cpu_for(self, audio_s: float) -> int:
        return max(1, math.ceil(self.cpu_s + self.cpu_s_per_audio_min * self._minutes(audio_s)))

    def wall_for(self, audio_s: float) -> float:
        return self.wall_s + self.wall_s_per_audio_min * self._minutes(audio_s)

    def memory_for(self, audio_s: float, values_per_s: int) -> int:
        """Bytes beyond what the child has loaded at its start."""
        audio = MEMORY_COPIES * 4 * values_per_s * self._minutes(audio_s) * 60.0
        return int(self.memory_mb * 2**20 + audio)


# ---- public jobs ----------------------------------------------------------------------

def probe(src: BinaryIO, limits: Limits | None = None) -> AudioInfo:
    """``decode.probe`` in the sandbox."""
    return run(_decode.probe, src, limits)


def validate(src: BinaryIO, limits: Limits | None = None, *,
             max_duration_s: float | None = None, max_channels: int = 2) -> AudioInfo:
    """``decode.validate`` in the sandbox."""
    return run(_decode.validate, src, limits, max_duration_s=max_duration_s,
               max_channels=max_channels)


def decode(src: BinaryIO, limits: Limits | None = None, *,
           max_duration_s: float | None = None, max_channels: int = 2) -> DecodedAudio:
    """``decode.decode`` in the sandbox."""
    return run(_decode.decode, src, limits, output_rate=ENGINE_SAMPLE_RATE,
               max_duration_s=max_duration_s, max_channels=max_channels)


def decode_native(src: BinaryIO, limits: Limits | None = None, *,
                  max_channels: int = 2) -> tuple[np.ndarray, int]:
    """``redact.decode_native`` in the sandbox."""
    from rokuon.engine.audio import redact

    return run(redact.decode_native, src, limits, output_rate=NATIVE_MAX_RATE,
               max_channels=max_channels)


# ---- parent side ----------------------------------------------------------------------

_ctx_lock = threading.Lock()
_ctx: Any = None


def _context() -> Any:
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _ctx = ctx
        return _ctx


class _Popen(multiprocessing.popen_forkserver.Popen):
    """The fork server's launch, minus re-importing the parent's main script in every
    child (``multiprocessing`` would run e.g. the ``rokuon`` command's module, and all it
    imports, once per job; jobs are module-level functions, imported by name)."""

    def _launch(self, process_obj: Any) -> None:
        prep = {k: v for k, v in
                multiprocessing.spawn.get_preparation_data(process_obj._name).items()
                if k not in ("init_main_from_path", "init_main_from_name")}
        buf = io.BytesIO()
        multiprocessing.context.set_spawning_popen(self)
        try:
            multiprocessing.context.reduction.dump(prep, buf)
            multiprocessing.context.reduction.dump(process_obj, buf)
        finally:
            multiprocessing.context.set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)  # the child's "parent alive" sentinel
        self.finalizer = multiprocessing.util.Finalize(
            self, multiprocessing.util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)


class _Job:
    """The parent's view of one running child."""

    def __init__(self, limits: Limits, output_rate: int, max_channels: int) -> None:
        self.limits = limits
        self.audio_s = 0.0
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_for(0.0)
        self.timed_out = False
        self.max_result = limits.memory_for(limits.max_audio_s,
                                            output_rate * max(1, max_channels)) + (64 << 20)

    def grow(self, audio_s: float) -> None:
        if audio_s > self.audio_s:
            self.audio_s = min(audio_s, self.limits.max_audio_s)
            self.deadline = self.started + self.limits.wall_for(self.audio_s)


class _ProtocolError(Exception):
    pass


def run(fn: Callable[..., T], src: BinaryIO, limits: Limits | None = None, *,
        output_rate: int = 0, **kwargs: Any) -> T:
    """``fn(<src>, **kwargs)`` in a sandboxed child; its result or an ``AudioError``.

    ``fn`` must be a module-level function (it is imported by name in the child) that
    reads ``src`` as a seekable binary file and returns None, numbers, strings, numpy
    arrays, bytes, ``AudioInfo``, ``DecodedAudio`` or tuples/lists of these.
    ``output_rate``: values per second and channel (float32) the job keeps, for its
    memory budget."""
    limits = limits or Limits()
    if not limits.enabled:
        return fn(src, **kwargs)
    src.seek(0, 2)
    size = src.tell()
    src.seek(0)
    ctx = _context()
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    proc = _Process(target=_child_main, name="rokuon-decode", daemon=True,
                    args=(child_conn, fn, kwargs, size, limits, output_rate))
    try:
        proc.start()
    except BaseException:
        parent_conn.close()
        raise
    finally:
        child_conn.close()
    # the clock starts once the child exists (not while a fork server starts up)
    job = _Job(limits, output_rate, int(kwargs.get("max_channels", 2)))
    done = threading.Event()
    watchdog = threading.Thread(target=_watch, args=(job, proc, done), daemon=True,
                                name="rokuon-decode-watchdog")
    watchdog.start()
    try:
        return _serve(parent_conn, proc, src, job)  # type: ignore[no-any-return]
    finally:
        done.set()
        if proc.exitcode is None:
            proc.kill()
        proc.join()
        parent_conn.close()
        watchdog.join()
        proc.close()


def _watch(job: _Job, proc: Any, done: threading.Event) -> None:
    """Kill the child once the (growing) wall-clock budget is spent."""
    while not done.is_set():
        left = job.deadline - time.monotonic()
        if left <= 0:
            job.timed_out = True
            with contextlib.suppress(OSError, ValueError):
                proc.kill()
            return
        done.wait(min(left, 1.0))


def _serve(conn: Connection, proc: Any, src: BinaryIO, job: _Job) -> Any:
    """Answer the child's reads and budget reports until it sends its result or dies.
    Whatever the child sends is checked; a failure of ``src`` itself propagates."""
    gone = (EOFError, BrokenPipeError, ConnectionResetError)
    try:
        while True:
            ready = multiprocessing.connection.wait([conn, proc.sentinel])
            if conn not in ready and not conn.poll(0):
                break  # died without a word
            try:
                msg = _parse(conn.recv_bytes(MAX_MESSAGE))
            except gone:
                break
            except OSError as exc:  # longer than any control message
                raise _ProtocolError(str(exc)) from exc
            op = msg.get("op")
            if op == "read":
                pos, n = msg.get("pos"), msg.get("n")
                if not (isinstance(pos, int) and isinstance(n, int) and pos >= 0
                        and 0 < n <= MAX_READ):
                    raise _ProtocolError("bad read request")
                src.seek(pos)
                data = src.read(n)
                try:
                    conn.send_bytes(data)
                except gone:
                    break
            elif op == "budget":
                audio_s = msg.get("audio_s")
                if not isinstance(audio_s, int | float):
                    raise _ProtocolError("bad budget report")
                job.grow(float(audio_s))
            elif op == "result":
                try:
                    return _receive_result(conn, msg.get("value"), job)
                except gone:
                    break
            elif op == "error":
                raise _child_error(msg)
            else:
                raise _ProtocolError(f"unknown message {op!r}")
    except _ProtocolError as exc:
        proc.kill()
        proc.join()
        raise AudioError("decoder sent a malformed reply") from exc
    proc.join()
    raise _death(proc.exitcode, job)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise _ProtocolError("not JSON") from exc
    if not isinstance(msg, dict):
        raise _ProtocolError("not an object")
    return msg


def _child_error(msg: dict[str, Any]) -> AudioError:
    kind, text = msg.get("kind"), str(msg.get("message", ""))[:500]
    text = " ".join(text.split())
    if kind == "memory":
        return AudioError(f"decoding stopped: used more than {msg.get('mb')} MB of memory")
    if kind == "audio":
        return AudioError(text)
    return AudioError(f"decoder failed: {text}")


def _death(exitcode: int | None, job: _Job) -> AudioError:
    if job.timed_out:
        return AudioError(f"decoding stopped: took longer than "
                          f"{job.limits.wall_for(job.audio_s):.0f} s")
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        if sig == signal.SIGXCPU:
            return AudioError(f"decoding stopped: used more than "
                              f"{job.limits.cpu_for(job.audio_s)} s of CPU")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "unknown"
        return AudioError(f"decoder crashed (signal {sig}, {name})")
    return AudioError(f"decoder exited without a result (exit code {exitcode})")


def _receive_result(conn: Connection, value: Any, job: _Job) -> Any:
    budget = [job.max_result]

    def array(spec: dict[str, Any]) -> np.ndarray:
        dtype = np.dtype(str(spec["dtype"]))
        shape = tuple(int(d) for d in spec["shape"])
        if dtype.kind not in _RESULT_DTYPES or dtype.hasobject or any(d < 0 for d in shape):
            raise _ProtocolError("bad array")
        nbytes = dtype.itemsize * math.prod(shape)
        budget[0] -= nbytes
        if budget[0] < 0:
            raise _ProtocolError("result larger than the job's memory budget")
        out = np.empty(shape, dtype)
        try:
            got = conn.recv_bytes_into(out.reshape(-1).view(np.uint8)) if nbytes else \
                len(conn.recv_bytes(16))
        except (multiprocessing.BufferTooShort, OSError) as exc:
            if isinstance(exc, EOFError | BrokenPipeError | ConnectionResetError):
                raise
            raise _ProtocolError("array longer than announced") from exc
        if got != nbytes:
            raise _ProtocolError("short array")
        return out

    def load(v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if not isinstance(v, dict):
            raise _ProtocolError("bad value")
        t = v.get("$")
        if t == "ndarray":
            return array(v)
        if t == "bytes":
            return array({"dtype": "|u1", "shape": [v["n"]]}).tobytes()
        if t in ("list", "tuple"):
            items = [load(x) for x in v["items"]]
            return items if t == "list" else tuple(items)
        if t == "AudioInfo":
            return AudioInfo(container=str(v["container"]), codec=str(v["codec"]),
                             sample_rate=int(v["sample_rate"]), channels=int(v["channels"]),
                             duration_s=float(v["duration_s"]))
        if t == "DecodedAudio":
            return DecodedAudio(info=load(v["info"]), channels=[load(c) for c in v["channels"]],
                                sample_rate=int(v["sample_rate"]))
        raise _ProtocolError(f"unknown value type {t!r}")

    try:
        return load(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise _ProtocolError(str(exc)) from exc


# ---- child side -----------------------------------------------------------------------

def _send(conn: Connection, msg: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(msg).encode())


def _vm_size() -> int:
    """This process's address space now (bytes)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Budget:
    """Raise the child's own soft limits as the recording proves its length."""

    def __init__(self, conn: Connection, limits: Limits, output_rate: int,
                 max_channels: int) -> None:
        self.conn, self.limits, self.rate = conn, limits, output_rate
        self.base_vm = _vm_size()
        self.audio_s = -1.0
        self.channels = 1
        top = limits.max_audio_s
        self.hard_cpu = limits.cpu_for(top) + 2  # SIGXCPU at the soft limit, SIGKILL here
        self.hard_as = self.base_vm + limits.memory_for(top, output_rate * max(1, max_channels))
        self.memory_mb = limits.memory_mb

    def grow(self, audio_s: float, channels: int) -> None:
        audio_s = max(0.0, min(float(audio_s), self.limits.max_audio_s))
        channels = max(1, int(channels))
        if audio_s <= self.audio_s and channels <= self.channels:
            return
        self.audio_s, self.channels = max(audio_s, self.audio_s), max(channels, self.channels)
        cpu = min(self.limits.cpu_for(self.audio_s), self.hard_cpu)
        extra = self.limits.memory_for(self.audio_s, self.rate * self.channels)
        mem = min(self.base_vm + extra, self.hard_as)
        self.memory_mb = math.ceil(extra / 2**20)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, self.hard_cpu))
        if self.base_vm:
            resource.setrlimit(resource.RLIMIT_AS, (mem, self.hard_as))
        if self.audio_s > 0:
            _send(self.conn, {"op": "budget", "audio_s": self.audio_s})


class _RemoteFile:
    """A read-only seekable file whose bytes the parent serves over the pipe."""

    def __init__(self, conn: Connection, size: int) -> None:
        self.conn, self.size, self.pos = conn, size, 0
        self.cache_start, self.cache = 0, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self.pos = base + offset
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        if n <= 0:
            return b""
        off = self.pos - self.cache_start
        if not (off >= 0 and off + n <= len(self.cache)):
            want = min(max(n, READ_AHEAD), self.size - self.pos)
            chunks = []
            got = 0
            while got < want:  # the parent sends at most MAX_READ per request
                step = min(want - got, MAX_READ)
                _send(self.conn, {"op": "read", "pos": self.pos + got, "n": step})
                chunk = self.conn.recv_bytes()
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            self.cache_start, self.cache = self.pos, b"".join(chunks)
            off = 0
        out = self.cache[off:off + n]
        self.pos += len(out)
        return out


def _harden() -> None:
    """No core dumps (they would hold plaintext audio); Ctrl-C is the parent's."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        arrays.append(arr)
        return {"$": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if isinstance(value, bytes | bytearray):
        arrays.append(np.frombuffer(value, np.uint8))
        return {"$": "bytes", "n": len(value)}
    if isinstance(value, AudioInfo):
        return {"$": "AudioInfo", **asdict(value)}
    if isinstance(value, DecodedAudio):
        return {"$": "DecodedAudio", "info": _encode(value.info, arrays),
                "channels": [_encode(c, arrays) for c in value.channels],
                "sample_rate": value.sample_rate}
    if isinstance(value, list | tuple):
        return {"$": "list" if isinstance(value, list) else "tuple",
                "items": [_encode(v, arrays) for v in value]}
    raise TypeError(f"a sandboxed job cannot return {type(value).__name__}")


def _child_main(conn: Connection, fn: Callable[..., Any], kwargs: dict[str, Any], size: int,
                limits: Limits, output_rate: int) -> None:
    budget = _Budget(conn, limits, output_rate, int(kwargs.get("max_channels", 2)))
    _harden()
    budget.grow(0.0, 1)
    _decode.progress_hook = budget.grow
    try:
        value = fn(_RemoteFile(conn, size), **kwargs)
        arrays: list[np.ndarray] = []
        header = {"op": "result", "value": _encode(value, arrays)}
    except MemoryError:
        _send(conn, {"op": "error", "kind": "memory", "mb": budget.memory_mb})
        return
    except AudioError as exc:
        if _ENOMEM in str(exc):
            _send(conn, {"op": "error", "kind": "memory", "mb": budget.memory_mb})
        else:
            _send(conn, {"op": "error", "kind": "audio", "message": str(exc)})
        return
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        kind = "memory" if _ENOMEM in str(exc) else "other"
        _send(conn, {"op": "error", "kind": kind, "mb": budget.memory_mb,
                     "message": f"{type(exc).__name__}: {exc}"})
        return
    _send(conn, header)
    for arr in arrays:
        conn.send_bytes(arr.reshape(-1).view(np.uint8))
