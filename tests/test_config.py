from pathlib import Path

import pytest

from rokuon.config import ConfigError, load_settings


def test_env_overrides_file_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text('asr_language = "en"\nworkers = 3\n')
    monkeypatch.setenv("ROKUON_HOME", str(home))
    monkeypatch.setenv("ROKUON_WORKERS", "5")
    s = load_settings()
    assert s.home == home
    assert s.asr_language == "en"  # from the file
    assert s.workers == 5  # env beats file
    assert s.effective_database_url == f"sqlite:///{home / 'rokuon.db'}"
    assert load_settings(workers=7).workers == 7  # explicit override beats env


def test_database_url_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROKUON_HOME", str(tmp_path))
    monkeypatch.setenv("ROKUON_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_settings().effective_database_url == "postgresql+psycopg://u@h/db"


def test_bad_config_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('workers = "many"\n')
    monkeypatch.setenv("ROKUON_HOME", str(tmp_path))
    monkeypatch.delenv("ROKUON_WORKERS", raising=False)
    with pytest.raises(ConfigError, match="'workers'"):
        load_settings()


def test_broken_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text("workers = = 1\n")
    monkeypatch.setenv("ROKUON_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
