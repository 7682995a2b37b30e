"""Model spec resolution and the packaged model's assembly with its hash check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rokuon.engine.asr.model import ModelError, assemble_packaged, load_model, resolve_model


def _parts(tmp_path: Path, content: bytes) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    a, b, cfg = tmp_path / "p1", tmp_path / "p2", tmp_path / "config.json"
    a.write_bytes(content[:10])
    b.write_bytes(content[10:])
    cfg.write_text("{}")
    return (a, b), (cfg,)


def test_assembly_verifies_and_is_done_once(tmp_path: Path) -> None:
    content = b"0123456789abcdefghij"
    parts, extras = _parts(tmp_path, content)
    sha = hashlib.sha256(content).hexdigest()
    out = assemble_packaged(tmp_path / "models", parts=parts, extras=extras,
                            expected_sha256=sha)
    assert (out / "model.bin").read_bytes() == content
    assert (out / "config.json").exists()
    parts[0].unlink()  # already assembled: the parts are not needed again
    assert assemble_packaged(tmp_path / "models", parts=parts, extras=extras,
                             expected_sha256=sha) == out


def test_corrupt_parts_refused_and_nothing_left(tmp_path: Path) -> None:
    parts, extras = _parts(tmp_path, b"0123456789abcdefghij")
    with pytest.raises(ModelError, match="corrupt"):
        assemble_packaged(tmp_path / "models", parts=parts, extras=extras,
                          expected_sha256="0" * 64)
    assert not (tmp_path / "models" / "whisper-base" / "model.bin").exists()
    assert [p.name for p in (tmp_path / "models" / "whisper-base").iterdir()] == []


def test_specs(tmp_path: Path) -> None:
    local = tmp_path / "m"
    local.mkdir()
    with pytest.raises(ModelError, match="no model.bin"):
        resolve_model(str(local), tmp_path)
    (local / "model.bin").write_bytes(b"x")
    assert resolve_model(str(local), tmp_path) == str(local)
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model("./missing-model", tmp_path)
    assert resolve_model("large-v3", tmp_path) == "large-v3"


def test_hub_name_offline_gives_a_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="could not download model 'large-v3'"):
        load_model("large-v3", tmp_path, device="cpu", compute_type="int8")


def test_packaged_model_assembles_with_the_real_hash(models_dir: Path) -> None:
    out = Path(resolve_model("packaged", models_dir))
    assert (out / "model.bin").stat().st_size > 100_000_000
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in
                                                                     out.iterdir()}
