"""Creating an installation (``rokuon init``) and opening an existing one."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import inspect, select

from rokuon.access.principal import Principal
from rokuon.config import ConfigError, Settings, default_config_toml
from rokuon.runtime import Runtime
from rokuon.store import migrate
from rokuon.store.models import User
from rokuon.users.service import create_user


class AlreadyInitialisedError(ConfigError):
    pass


@dataclass
class InitResult:
    home: str
    database: str
    admin_email: str
    admin_password: str


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def init_installation(settings: Settings, admin_email: str) -> InitResult:
    if settings.config_file.exists():
        raise AlreadyInitialisedError(
            f"{settings.home} already holds a rokuon installation; refusing to overwrite it")
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.home, 0o700)
    rt = Runtime(settings, require_init=False)
    try:
        from rokuon.store.keys import LocalKeyFileProvider

        # the KEK first: the embedded database is encrypted with a key it wraps
        if settings.key_provider == "local" and not settings.key_file.exists():
            settings.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            LocalKeyFileProvider.create(settings.key_file)
        engine = rt.db.engine
        if "users" in inspect(engine).get_table_names():
            with rt.db.session() as s:
                if s.scalar(select(User.id).limit(1)) is not None:
                    raise AlreadyInitialisedError(
                        f"database {_redact(settings.effective_database_url)} already holds a "
                        "rokuon installation; refusing to overwrite it")
        migrate.upgrade(engine)
        rt.audit_keys.mac_key()  # created now, 0600, beside the data key file
        rt.audit_keys.signing_key()
        with rt.db.session() as s:
            _, password = create_user(s, Principal.cli(), admin_email, "admin")
        # the config file is written last: its presence marks a complete installation
        tmp = settings.config_file.with_suffix(".tmp")
        tmp.write_text(default_config_toml(), encoding="utf-8")
        os.replace(tmp, settings.config_file)
        return InitResult(home=str(settings.home),
                          database=_redact(settings.effective_database_url),
                          admin_email=admin_email.lower(), admin_password=password)
    finally:
        rt.close()


def open_runtime(settings: Settings, *, migrate_db: bool = True) -> Runtime:
    rt = Runtime(settings)
    if migrate_db:
        migrate.upgrade(rt.db.engine)
    return rt
