"""``rokuon doctor``: checks the whole configuration and says what is wrong, one line per
problem: the settings, the database (reachable, migrated), the key provider, the blob
store (a local folder writable; an S3 bucket reachable with valid credentials and without
versioning or lifecycle rules that contradict erasure and retention), the broker when
one is configured, and the speech model.

Each check gives a ``Finding`` (``ok`` / ``warn`` / ``error``). ``startup_problems`` runs
the checks a server or worker cannot work without (blob store, broker), so that a wrong
bucket, wrong credentials or an unreachable endpoint stop ``serve``/``worker`` at once
with the reason instead of leaving a worker that retries forever.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rokuon.config import Settings
    from rokuon.runtime import Runtime

OK, WARN, ERROR = "ok", "warn", "error"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    message: str

    def line(self) -> str:
        return f"{self.status.upper():5} {self.check}: {self.message}"


def _settings() -> tuple[Settings | None, Finding]:
    from rokuon.config import ConfigError, load_settings

    try:
        s = load_settings()
    except ConfigError as exc:
        return None, Finding("config", ERROR, str(exc))
    if not s.initialised:
        return s, Finding("config", ERROR, f"rokuon is not initialised in {s.home}: run "
                                           "'rokuon init' first (or set ROKUON_HOME)")
    return s, Finding("config", OK, f"settings from {s.home}")


def check_database(rt: Runtime) -> Finding:
    from sqlalchemy import text

    from rokuon.store import migrate

    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revision(rt.db.engine)
    except Exception as exc:  # noqa: BLE001 - any driver error is the finding
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Finding("database", ERROR, f"cannot connect: {first}")
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(
        migrate.alembic_config(rt.settings.effective_database_url)).get_heads()
    head = heads[0] if len(heads) == 1 else migrate.head_revision()
    if current != head:
        return Finding("database", ERROR, f"schema at revision {current or 'none'}, the code "
                                          f"needs {head}: run 'rokuon init' to migrate")
    return Finding("database", OK, f"{rt.db.engine.dialect.name}, schema at {head}")


def check_keys(rt: Runtime) -> Finding:
    try:
        dek = secrets.token_bytes(32)
        if rt.keys.unwrap(rt.keys.wrap(dek)) != dek:
            return Finding("keys", ERROR, "key provider returned a different key on unwrap")
    except Exception as exc:  # noqa: BLE001
        return Finding("keys", ERROR, str(exc) or type(exc).__name__)
    return Finding("keys", OK, f"{rt.settings.key_provider} key provider wraps and unwraps")


def check_blobs(rt: Runtime) -> list[Finding]:
    from rokuon.store.blobs import BlobStoreError, LocalBlobStore

    try:
        store = rt.blobs
    except BlobStoreError as exc:
        return [Finding("blobs", ERROR, str(exc))]
    if isinstance(store, LocalBlobStore):
        root = store.root
        probe = root / f".doctor-{secrets.token_hex(4)}"
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return [Finding("blobs", ERROR, f"blob folder {root} is not writable: "
                                            f"{exc.strerror or exc}")]
        return [Finding("blobs", OK, f"local folder {root} is writable")]
    check = getattr(store, "check", None)
    if check is None:
        return [Finding("blobs", OK, f"{type(store).__name__} (no checks available)")]
    rep = check()
    out = [Finding("blobs", ERROR, p) for p in rep.problems]
    out += [Finding("blobs", WARN, w) for w in rep.warnings]
    if not out:
        out.append(Finding("blobs", OK, f"bucket {store.url} reachable, credentials valid, "
                                        "no versioning or expiring lifecycle rule"))
    return out


def broker_url(settings: Settings) -> str:
    return str(getattr(settings, "broker_url", "") or os.environ.get("ROKUON_BROKER_URL", ""))


def check_broker(settings: Settings, timeout_s: float = 3.0) -> Finding | None:
    """None when no broker is configured (in-process workers)."""
    url = broker_url(settings)
    if not url:
        return None
    from kombu import Connection

    shown = _redact(url)
    try:
        with Connection(url, connect_timeout=timeout_s,
                        transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds
        return Finding("broker", ERROR, f"cannot connect to {shown}: "
                                        f"{str(exc) or type(exc).__name__}")
    return Finding("broker", OK, f"{shown} reachable")


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def check_model(settings: Settings) -> Finding:
    from rokuon.engine.asr import model

    spec = settings.asr_model
    try:
        if spec == model.PACKAGED:
            for dist, name in model.PACKAGED_PARTS:
                model._package_file(dist, name)
            return Finding("model", OK, "packaged Whisper model installed")
        path = model.resolve_model(spec, settings.models_dir)
    except model.ModelError as exc:
        return Finding("model", ERROR, str(exc))
    if os.path.isdir(path):
        return Finding("model", OK, f"Whisper model at {path}")
    return Finding("model", WARN, f"Whisper model {spec!r} is a hub name: it is downloaded "
                                  "on first use and needs network access")


def run_checks() -> list[Finding]:
    """Every check, in order; a failing early check skips the ones that need it."""
    from rokuon.install import open_runtime

    settings, first = _settings()
    findings = [first]
    if settings is None:
        return findings
    if first.status == OK:
        try:
            rt = open_runtime(settings)
        except Exception as exc:  # noqa: BLE001 - a database or key error, in one line
            findings.append(Finding("database", ERROR, str(exc) or type(exc).__name__))
            rt = None
    if first.status == OK and rt is not None:
        try:
            findings.append(check_database(rt))
            findings.append(check_keys(rt))
            findings.extend(check_blobs(rt))
        finally:
            rt.close()
    broker = check_broker(settings)
    if broker is not None:
        findings.append(broker)
    findings.append(check_model(settings))
    return findings


def startup_problems(rt: Runtime) -> list[str]:
    """What stops ``serve``/``worker`` from working at all: errors of the blob store and
    of the broker (one line each); empty when they are usable."""
    lines = [f.message for f in check_blobs(rt) if f.status == ERROR]
    broker = check_broker(rt.settings)
    if broker is not None and broker.status == ERROR:
        lines.append(broker.message)
    return lines


def as_json(findings: list[Finding]) -> dict[str, Any]:
    return {"ok": not any(f.status == ERROR for f in findings),
            "warnings": sum(f.status == WARN for f in findings),
            "checks": [asdict(f) for f in findings]}

