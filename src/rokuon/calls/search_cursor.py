"""Opaque cursors to the next page of search hits and of the call list: the sort key
of the last row, as URL-safe base64 of a small JSON array (they carry no secret: a
tampered cursor can only point elsewhere in what the principal may see anyway)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime


class CursorError(ValueError):
    """A cursor that this server did not give (the message says so)."""


@dataclass(frozen=True)
class Cursor:
    started_at: datetime | None
    created_at: datetime
    call_id: str
    start: float = 0.0
    segment_id: int = 0


def _pack(parts: list[object]) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unpack(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise CursorError(f"cursor: '{cursor[:40]}' is not a cursor this server gave") from e
    if not isinstance(parts, list):
        raise CursorError(f"cursor: '{cursor[:40]}' is not a cursor this server gave")
    return parts


def _time(v: object, cursor: str) -> datetime | None:
    if v is None:
        return None
    try:
        return datetime.fromisoformat(str(v))
    except ValueError as e:
        raise CursorError(f"cursor: '{cursor[:40]}' is not a cursor this server gave") from e


def encode(started_at: datetime | None, created_at: datetime, call_id: str,
           start: float = 0.0, segment_id: int = 0) -> str:
    return _pack(["s1", started_at.isoformat() if started_at else None,
                  created_at.isoformat(), call_id, start, segment_id])


def decode(cursor: str) -> Cursor:
    parts = _unpack(cursor)
    if len(parts) != 6 or parts[0] != "s1" or not isinstance(parts[3], str) \
            or not isinstance(parts[4], int | float) or not isinstance(parts[5], int) \
            or parts[2] is None:
        raise CursorError(f"cursor: '{cursor[:40]}' is not a cursor this server gave")
    created = _time(parts[2], cursor)
    assert created is not None
    return Cursor(_time(parts[1], cursor), created, parts[3], float(parts[4]), parts[5])
