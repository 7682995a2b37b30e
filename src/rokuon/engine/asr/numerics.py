"""Reproducible CPU numerics for CTranslate2 (the engine under faster-whisper).

The same audio, model and options gave different transcripts on different machines:
CTranslate2 picks its kernels for the CPU it finds (instruction set: AVX2, AVX-512,
VNNI…) and, on x86, its matrix library by vendor (Intel MKL on Intel CPUs, oneDNN
elsewhere). Each choice rounds differently, and a beam search turns a rounding
difference into another word. Pinning one kernel family everywhere removes that:

- ``CT2_USE_MKL=0``: oneDNN for every vendor (MKL only exists on x86 Intel paths);
- ``CT2_FORCE_CPU_ISA`` and ``ONEDNN_MAX_CPU_ISA``: the same instruction set
  (``AVX2`` by default: every x86 server CPU of the last ten years has it).

These are environment variables that the libraries read once, when they are first
loaded, so :func:`pin` must run before ``faster_whisper``/``ctranslate2`` are imported;
:func:`state` tells afterwards whether it did (recorded in each transcript's
provenance). ``"auto"`` leaves the libraries free to use the fastest kernels.
"""

from __future__ import annotations

import os
import platform
import sys

AUTO = "auto"
DEFAULT_ISA = "AVX2"
_CT2_ISAS = {"GENERIC", "AVX", "AVX2", "AVX512", "NEON"}
# oneDNN's names for the same levels (it has no GENERIC: SSE41 is its floor)
_ONEDNN_ISA = {"GENERIC": "SSE41", "AVX": "AVX", "AVX2": "AVX2", "AVX512": "AVX512_CORE"}
_VARS = ("CT2_USE_MKL", "CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")

_requested: str | None = None
_loaded_before: bool | None = None


class NumericsError(ValueError):
    pass


def check(isa: str) -> str:
    """The setting, normalised; a clear error for an unknown value."""
    value = (isa or AUTO).strip()
    if value.lower() == AUTO:
        return AUTO
    if value.upper() not in _CT2_ISAS:
        raise NumericsError(f"asr_cpu_isa: unknown instruction set {isa!r} (expected 'auto' "
                            f"or one of {', '.join(sorted(_CT2_ISAS))})")
    return value.upper()


def pin(isa: str = DEFAULT_ISA) -> None:
    """Set the kernel-selection variables for ``isa`` (before the engine libraries load).

    ``NEON`` (ARM) and ``auto`` only affect CTranslate2's own choice. Variables the
    operator set explicitly are left alone (they win)."""
    global _requested, _loaded_before
    value = check(isa)
    _requested = value
    _loaded_before = "ctranslate2" in sys.modules
    if value == AUTO:
        return
    is_x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
    if value == "NEON" or not is_x86:
        os.environ.setdefault("CT2_FORCE_CPU_ISA", value if value == "NEON" else "GENERIC")
        return
    os.environ.setdefault("CT2_USE_MKL", "0")
    os.environ.setdefault("CT2_FORCE_CPU_ISA", value)
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", _ONEDNN_ISA[value])
    os.environ.setdefault("DNNL_MAX_CPU_ISA", _ONEDNN_ISA[value])


def state() -> dict[str, object]:
    """What was asked for, what the process has, and whether it took effect (False when
    the libraries were already loaded before :func:`pin`)."""
    env = {k: os.environ[k] for k in _VARS if k in os.environ}
    return {"requested": _requested, "env": env, "machine": platform.machine(),
            "applied": bool(_requested) and _requested != AUTO and not _loaded_before}
