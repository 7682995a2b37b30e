"""The list of crypto-shredded calls, kept with the key material (not in the database).

Backups hold the database and the encrypted blobs, but not the keys. A restore of an
old backup reads this list from the current key folder and destroys again every call
erased since the backup was made, so erased calls never come back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rokuon.store.models import utcnow

FILE_NAME = "shredded.jsonl"


def path_for(key_dir: Path) -> Path:
    return Path(key_dir) / FILE_NAME


def append(key_dir: Path, call_id: str) -> None:
    p = path_for(key_dir)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"call_id": call_id, "at": utcnow().isoformat()}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def shredded_ids(key_dir: Path) -> set[str]:
    p = path_for(key_dir)
    if not p.exists():
        return set()
    out = set()
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            out.add(json.loads(line)["call_id"])
    return out
