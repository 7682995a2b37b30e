"""Serving call audio to the player: decrypted and transcoded in memory, with
HTTP Range support. Never written to disk."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from fastapi import Response

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class MemoryLRU:
    """A tiny in-memory cache of transcoded WAVs (the browser asks for many ranges)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._d: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def drop(self, key: str) -> None:
        with self._lock:
            self._d.pop(key, None)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, end inclusive), None for no/ignored range, 'unsatisfiable'."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or multi-range: serve the whole body
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:
        length = int(m.group(2))
        if length == 0:
            return "unsatisfiable"
        start, end = max(0, size - length), size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, min(end, size - 1)


def range_response(data: bytes, range_header: str | None, media_type: str) -> Response:
    size = len(data)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    r = parse_range(range_header, size)
    if r == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if r is None:
        return Response(data, media_type=media_type, headers=headers)
    start, end = r  # type: ignore[misc]
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start:end + 1], status_code=206, media_type=media_type,
                    headers=headers)
