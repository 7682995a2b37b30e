"""Shared fixtures. The whole suite runs on SQLite by default and on PostgreSQL
when ROKUON_TEST_DATABASE_URL is set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test):
every test then gets its own schema, dropped afterwards."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rokuon.config import Settings, load_settings

DATA = Path(__file__).parent / "data"
CALLS = DATA / "calls"
PG_URL = os.environ.get("ROKUON_TEST_DATABASE_URL")


DATABASE_FIXTURES = {"database_url", "fresh_database"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass runs only what can behave differently there: tests that use a
    database (the ``database_url`` fixture, directly or through ``settings``/
    ``installation``, or a test's own ``fresh_database``) and are not browser tests.
    The rest (the engine on audio, text rules, the pages in chromium) is the same code on
    either database and has already run in the SQLite pass."""
    if not PG_URL:
        return
    keep, drop = [], []
    for item in items:
        uses_db = DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_db and item.get_closest_marker("browser") is None:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def corpus_calls() -> list[Path]:
    return sorted(p for p in CALLS.glob("*") if (p / "truth.json").exists())


def ordinary_calls() -> list[Path]:
    """Two-party calls on a clean line at normal speed (01-24), for a test that just
    needs a call. The harder calls (25 on: one or three voices, noise, fast speech…)
    carry labels.speakers."""
    return [p for p in corpus_calls()
            if "speakers" not in json.loads((p / "truth.json").read_text("utf-8"))["labels"]]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Packaged models are assembled once per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def database_url() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema},public"
    with admin.connect() as c:
        c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, models_dir: Path,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("ROKUON_HOME", str(home))
    monkeypatch.setenv("ROKUON_MODELS_PATH", str(models_dir))
    monkeypatch.setenv("ROKUON_JOB_POLL_S", "0.05")
    if database_url:
        monkeypatch.setenv("ROKUON_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("ROKUON_DATABASE_URL", raising=False)
    return load_settings()


@pytest.fixture
def installation(settings: Settings):  # type: ignore[no-untyped-def]
    """An initialised installation: (InitResult, Runtime)."""
    from rokuon.install import init_installation, open_runtime

    res = init_installation(settings, "admin@example.com")
    rt = open_runtime(load_settings())
    yield res, rt
    rt.close()


@pytest.fixture
def rt(installation):  # type: ignore[no-untyped-def]
    return installation[1]


@pytest.fixture(scope="session")
def shared_asr(models_dir: Path):  # type: ignore[no-untyped-def]
    """One loaded Whisper model for the whole session (slow tests)."""
    from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine

    return WhisperEngine(AsrOptions(), models_dir)


@pytest.fixture
def rt_asr(rt, shared_asr):  # type: ignore[no-untyped-def]
    rt.__dict__["_asr"] = shared_asr
    return rt
