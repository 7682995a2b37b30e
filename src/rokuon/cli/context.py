"""What every CLI command opens: the settings and the installation's runtime, with a
configuration problem turned into a one-line failure."""

from __future__ import annotations

from rokuon.cli.output import fail
from rokuon.config import ConfigError, Settings, load_settings


def cli_settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def cli_runtime():  # type: ignore[no-untyped-def]
    from rokuon.install import open_runtime

    try:
        return open_runtime(cli_settings())
    except ConfigError as exc:
        fail(str(exc))
