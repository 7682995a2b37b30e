"""Everything needed to reproduce a transcript, recorded with it.

A transcript is evidence in a dispute: which model (spec, resolved path, sha256 of
its weights), which decoding options, which numerics (compute type, device, the CPU
kernel family) and which code (rokuon, faster-whisper and CTranslate2 versions)
produced it. Same record + same audio = same text (tests/engine/test_reproducible.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import threading
from pathlib import Path
from typing import Any

_HASHES: dict[tuple[str, int, float], str] = {}
_HASH_LOCK = threading.Lock()
MARKER = ".sha256-verified"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_sha256(model_dir: Path) -> str | None:
    """sha256 of ``model.bin``: from the packaged model's verification marker when its
    size matches, else computed once per process (a few seconds for large models)."""
    path = Path(model_dir) / "model.bin"
    try:
        st = path.stat()
    except OSError:
        return None
    try:
        marker = json.loads((Path(model_dir) / MARKER).read_text())
        if marker.get("size") == st.st_size and marker.get("sha256"):
            return str(marker["sha256"])
    except (OSError, ValueError, AttributeError):
        pass
    key = (str(path), st.st_size, st.st_mtime)
    with _HASH_LOCK:
        if key not in _HASHES:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                while block := fh.read(8 * 1024 * 1024):
                    digest.update(block)
            _HASHES[key] = digest.hexdigest()
        return _HASHES[key]


def code_versions() -> dict[str, str | None]:
    from rokuon import __version__

    return {"rokuon": __version__, "faster_whisper": _version("faster-whisper"),
            "ctranslate2": _version("ctranslate2"), "onnxruntime": _version("onnxruntime")}


def record(*, model_spec: str, model_path: str | None, decoding: dict[str, Any],
           numerics: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"spec": model_spec, "path": model_path,
                  "sha256": model_sha256(Path(model_path)) if model_path else None},
        "decoding": decoding,
        "numerics": numerics,
        "code": code_versions(),
    }
