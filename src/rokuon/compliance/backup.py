"""Backups: one file with a consistent snapshot of the database and the encrypted
blobs of the calls in it. Key material is NOT in the backup (back up ROKUON_HOME/keys
separately); without it a backup cannot be decrypted, and restoring an old backup
re-erases every call shredded since (``shred_list``).

Format 2: a ZIP (stored, not compressed) with ``manifest.json`` (version, time, schema
revision, table row counts, sha256 of every member, the recordings the backup must hold,
and ``db_key``: the backup's own data key wrapped by the KEK), ``db/<table>.jsonl.enc``
(one JSON object per row, taken in a single read transaction, AES-256-GCM encrypted with
that data key: transcripts and customer numbers are never in a backup in the clear, as
they are not in the database file) and ``blobs/<key>`` (the encrypted files, byte for
byte). Format 1 (plain ``db/<table>.jsonl``) is still restored.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, inspect, select, text

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.compliance import shred_list
from rokuon.runtime import Runtime
from rokuon.store import migrate
from rokuon.store.models import Base, Call

FORMAT = "rokuon-backup/2"
FORMATS = {"rokuon-backup/1", FORMAT}
_NONCE = 12
SKIP_TABLES = {"web_sessions"}  # sessions are not worth restoring


class BackupError(Exception):
    pass


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _seal(dek: bytes, name: str, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(dek).encrypt(nonce, data, name.encode())


def _open(dek: bytes, name: str, sealed: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(dek).decrypt(sealed[:_NONCE], sealed[_NONCE:], name.encode())
    except InvalidTag as exc:
        raise BackupError(f"{name}: does not decrypt with the backup's key (altered?)") \
            from exc


def _member(table_name: str, manifest: dict[str, Any]) -> str:
    plain = f"db/{table_name}.jsonl"
    return plain if manifest.get("format") == "rokuon-backup/1" else plain + ".enc"


def _tables() -> list[Any]:
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIP_TABLES]


def create_backup(rt: Runtime, out: Path, actor: Principal) -> dict[str, Any]:
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists; refusing to overwrite it")
    tmp = out.with_name(f".{out.name}.partial")
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": datetime.now().astimezone()
                                .isoformat(), "schema": migrate.head_revision(),
                                "tables": {}, "files": {}, "recordings": []}
    dek = os.urandom(32)
    manifest["db_key"] = rt.keys.wrap(dek).to_json()
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf, \
                rt.db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():  # one snapshot for every table (SQLite: one read txn)
                blob_keys: list[str] = []
                for table in _tables():
                    rows = [dict(r._mapping) for r in conn.execute(select(table))]
                    plain = "".join(json.dumps(r, ensure_ascii=False,
                                               default=_json_default)
                                    + "\n" for r in rows).encode()
                    name = _member(table.name, manifest)
                    data = _seal(dek, name, plain)
                    zf.writestr(name, data)
                    manifest["tables"][table.name] = len(rows)
                    manifest["files"][name] = hashlib.sha256(data).hexdigest()
                    if table.name == "calls":
                        blob_keys = [r["blob_key"] for r in rows if r["wrapped_key"]]
            for key in blob_keys:  # from the blob store: local folder or S3 bucket
                if not rt.blobs.exists(key):  # erased after the snapshot
                    continue
                digest = hashlib.sha256()
                with zf.open(f"blobs/{key}", "w", force_zip64=True) as member:
                    for data in rt.blobs.raw_chunks(key):  # streamed, never whole
                        member.write(data)
                        digest.update(data)
                manifest["files"][f"blobs/{key}"] = digest.hexdigest()
                manifest["recordings"].append(f"blobs/{key}")
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with rt.db.session() as s:
        audit.record(s, actor, "backup.create", object_type="backup", object_id=out.name,
                     detail={"calls": manifest["tables"].get("calls", 0),
                             "files": len(manifest["files"])})
    return manifest


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str] = field(default_factory=list)
    calls: int = 0
    blobs: int = 0


def verify_backup(path: Path) -> VerifyReport:
    """Checks every member against the manifest and that each call's blob is there
    (needs no keys: the digests are of the stored, encrypted bytes)."""
    rep = VerifyReport(ok=True)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") not in FORMATS:
                return VerifyReport(False, [f"unknown format {manifest.get('format')}"])
            names = set(zf.namelist()) - {"manifest.json"}
            for name, digest in manifest["files"].items():
                if name not in names:
                    rep.problems.append(f"{name}: missing")
                elif hashlib.sha256(zf.read(name)).hexdigest() != digest:
                    rep.problems.append(f"{name}: content does not match the manifest")
            for extra in sorted(names - set(manifest["files"])):
                rep.problems.append(f"{extra}: not in the manifest")
            rep.calls = int(manifest["tables"].get("calls", 0))
            if manifest["format"] == "rokuon-backup/1":
                calls = [json.loads(line) for line in
                         zf.read("db/calls.jsonl").splitlines() if line.strip()]
                wanted = {f"blobs/{c['blob_key']}": c["id"] for c in calls if c["wrapped_key"]}
            else:
                wanted = {m: m[len("blobs/"):] for m in manifest["recordings"]}
            for member, what in wanted.items():
                if member not in names:
                    rep.problems.append(f"recording of {what}: missing")
                else:
                    rep.blobs += 1
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        return VerifyReport(False, [f"{path}: not a readable rokuon backup ({exc})"])
    rep.ok = not rep.problems
    return rep


def _coerce(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for col in table.columns:
        v = row.get(col.name)
        if isinstance(v, str) and _is_datetime(col):
            v = datetime.fromisoformat(v)
        out[col.name] = v
    return out


def _is_datetime(col: Any) -> bool:
    impl = getattr(col.type, "impl", col.type)
    return isinstance(impl, DateTime) or isinstance(col.type, DateTime)


def restore_backup(rt: Runtime, path: Path, actor: Principal) -> dict[str, Any]:
    """Into an installation with an empty database (``rokuon init`` with the original
    keys copied into ROKUON_HOME/keys first)."""
    rep = verify_backup(path)
    if not rep.ok:
        raise BackupError("backup does not verify: " + "; ".join(rep.problems[:3]))
    migrate.upgrade(rt.db.engine)
    with rt.db.session() as s:
        if s.scalar(select(Call.id).limit(1)) is not None:
            raise BackupError("this installation already has calls; restore into an empty "
                              "one")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        dek = _backup_key(rt, manifest)
        with rt.db.engine.begin() as conn:
            existing = set(inspect(conn).get_table_names())
            for table in reversed(_tables()):
                if table.name in existing:
                    conn.execute(table.delete())
            for table in _tables():
                name = _member(table.name, manifest)
                if name not in manifest["files"]:
                    continue
                data = zf.read(name) if dek is None else _open(dek, name, zf.read(name))
                rows = [_coerce(table, json.loads(line)) for line in
                        data.splitlines() if line.strip()]
                if rows:
                    conn.execute(table.insert(), rows)
            if conn.dialect.name == "postgresql":  # move sequences past restored ids
                for table in _tables():
                    col = table.columns.get("id")
                    if col is not None and isinstance(col.type, Integer) \
                            and table.name != "audit_head":
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
        for name in manifest["files"]:
            if name.startswith("blobs/"):  # into the blob store: local folder or S3
                with zf.open(name) as member:
                    rt.blobs.put_raw(name[len("blobs/"):],
                                     iter(lambda m=member: m.read(1 << 20), b""))
    # calls erased after this backup was made must stay erased
    from rokuon.calls.erase import erase_call

    gone = shred_list.shredded_ids(rt.settings.key_file.parent)
    reshredded = []
    with rt.db.session() as s:
        present = set(s.scalars(select(Call.id).where(Call.id.in_(gone))).all()) if gone \
            else set()
    for call_id in sorted(present):
        erase_call(rt, actor, call_id, reason="erased after this backup was made",
                   policy="restore:re-shred")
        reshredded.append(call_id)
    _check_keys(rt)
    with rt.db.session() as s:
        audit.record(s, actor, "backup.restore", object_type="backup", object_id=path.name,
                     detail={"calls": rep.calls, "reshredded": len(reshredded)})
    return {"calls": rep.calls - len(reshredded), "reshredded": reshredded}


def _backup_key(rt: Runtime, manifest: dict[str, Any]) -> bytes | None:
    """The backup's data key (None for a format-1 backup, whose rows are plain)."""
    from rokuon.store.keys import WrappedKey

    if manifest["format"] == "rokuon-backup/1":
        return None
    try:
        return rt.keys.unwrap(WrappedKey.from_json(manifest["db_key"]))
    except Exception as exc:  # noqa: BLE001
        raise BackupError("this backup cannot be decrypted with the keys in "
                          f"{rt.settings.key_file.parent}: copy the original key folder "
                          f"there ({exc})") from exc


def _check_keys(rt: Runtime) -> None:
    """The restored data keys must unwrap with this installation's key material."""
    from rokuon.store.keys import WrappedKey

    with rt.db.session() as s:
        call = s.scalars(select(Call).where(Call.wrapped_key.is_not(None)).limit(1)).first()
        if call is None:
            return
        try:
            rt.keys.unwrap(WrappedKey.from_json(call.wrapped_key or ""))
        except Exception as exc:  # noqa: BLE001
            raise BackupError("the restored recordings cannot be decrypted with the keys in "
                              f"{rt.settings.key_file.parent}: copy the original key folder "
                              f"there ({exc})") from exc


