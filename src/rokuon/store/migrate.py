"""Schema migrations (Alembic), run from code: ``rokuon init`` and at start-up.

Start-up only asks the database for its revision and compares it with the newest
migration file; Alembic itself is imported only when there is work to do (it costs
~0.1 s of imports on every CLI call otherwise).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def head_revision() -> str:
    """Migration files are named ``<NNNN>_<slug>.py`` with revision id NNNN."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    # a revision id may carry a slug after its number ("0007_auth_hardening")
    if (current_revision(engine) or "").split("_", 1)[0] == head_revision():
        return
    from alembic import command

    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
