"""Serving call audio to the player with HTTP Range support. Never written to disk.

Most recordings stream from the encrypted store chunk by chunk
(``streaming_range_response``: memory bounded by one block, whatever the call's length);
the rare codec a browser cannot play is transcoded in memory (``range_response``; the
decoded audio is kept only in rokuon.access.playback_cache, behind the door)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import Response
from fastapi.responses import StreamingResponse

from rokuon.engine.audio.playback import Plan, iter_range

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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


def streaming_range_response(src: BinaryIO, p: Plan, range_header: str | None) -> Response:
    """Stream ``p`` from ``src`` (a decrypting reader, closed when the body is done or the
    client goes away)."""
    size = p.size
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    r = parse_range(range_header, size)
    if r == "unsatisfiable":
        src.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status = 200
    start, end = 0, size - 1
    if r is not None:
        start, end = r  # type: ignore[misc]
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)

    def body() -> Iterator[bytes]:
        try:
            yield from iter_range(src, p, start, end)
        finally:
            src.close()

    return StreamingResponse(body(), status_code=status, media_type=p.media_type,
                             headers=headers)
