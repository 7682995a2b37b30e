"""``rokuon backup …``: a consistent snapshot of the database and the encrypted
recordings (never the keys), its verification, and a restore into an empty home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.context import cli_settings as _settings
from rokuon.cli.output import JsonOpt, emit_json, fail

backup_app = typer.Typer(no_args_is_help=True, help="Backups of database + encrypted blobs.")


@backup_app.command("create")
def backup_create(file: Annotated[Path, typer.Argument(help="The backup file to write.")],
                  json_: JsonOpt = False) -> None:
    """Consistent snapshot of the database and the encrypted recordings (no keys)."""
    from rokuon.compliance.backup import BackupError, create_backup

    rt = _runtime()
    try:
        m = create_backup(rt, file, Principal.cli())
    except (BackupError, OSError) as exc:
        fail(str(exc))
    doc = {"file": str(file), "calls": m["tables"].get("calls", 0), "files": len(m["files"])}
    emit_json(doc) if json_ else typer.echo(
        f"backup {file}: {doc['calls']} call(s), {doc['files']} file(s); back up "
        f"{rt.settings.key_file.parent} separately")


def _record_backup_verification(file: Path, ok: bool) -> None:
    """When run inside an installation, the verification goes to its audit log (the
    security checklist shows the last verified backup)."""
    from rokuon.access import audit
    from rokuon.install import open_runtime

    try:
        rt = open_runtime(_settings())
    except Exception:  # noqa: BLE001 - verifying a backup file needs no installation
        return
    with rt.db.session() as s:
        audit.record(s, Principal.cli(), "backup.verify", object_type="backup",
                     object_id=file.name, outcome="ok" if ok else "failed")


@backup_app.command("verify")
def backup_verify(file: Annotated[Path, typer.Argument(help="The backup file.")],
                  json_: JsonOpt = False) -> None:
    """Check a backup against its manifest; exit 0 only when complete and intact."""
    from rokuon.compliance.backup import verify_backup

    rep = verify_backup(file)
    _record_backup_verification(file, rep.ok)
    if json_:
        emit_json(vars(rep))
    elif rep.ok:
        typer.echo(f"backup {file} is intact: {rep.calls} call(s), {rep.blobs} recording(s)")
    if not rep.ok:
        fail(f"backup {file} is damaged: {'; '.join(rep.problems[:5])}")


@backup_app.command("restore")
def backup_restore(file: Annotated[Path, typer.Argument(help="The backup file.")],
                   json_: JsonOpt = False) -> None:
    """Restore into an empty ROKUON_HOME whose keys/ folder holds the original keys.
    Calls erased since the backup was made are erased again."""
    import os

    from rokuon.compliance.backup import BackupError, restore_backup
    from rokuon.config import default_config_toml
    from rokuon.runtime import Runtime

    settings = _settings()
    if not settings.key_file.exists():
        fail(f"copy the original key folder to {settings.key_file.parent} first (the "
             "backup holds no keys)")
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    rt = Runtime(settings, require_init=False)
    try:
        res = restore_backup(rt, file, Principal.cli())
    except BackupError as exc:
        fail(str(exc))
    if not settings.config_file.exists():
        settings.config_file.write_text(default_config_toml(), encoding="utf-8")
        os.chmod(settings.config_file, 0o600)
    emit_json(res) if json_ else typer.echo(
        f"restored {res['calls']} call(s); {len(res['reshredded'])} erased again")
