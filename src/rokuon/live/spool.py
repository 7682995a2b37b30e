"""The live spool: raw PCM of a call in progress, encrypted in one-second chunks and
flushed to disk as it arrives, so a crash loses at most about a second of audio."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from rokuon.store.blobcrypt import EncryptingWriter, recover_chunks

FSYNC_EVERY_S = 1.0


class Spool:
    def __init__(self, path: Path, dek: bytes, bytes_per_s: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._fh = open(path, "xb")  # noqa: SIM115 - closed by finish()/close()
        self._w = EncryptingWriter(self._fh, dek, chunk_size=max(1, bytes_per_s))
        self._synced = time.monotonic()
        self.size = 0

    def write(self, pcm: bytes) -> None:
        self._w.write(pcm)
        self.size += len(pcm)
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= FSYNC_EVERY_S:
            os.fsync(self._fh.fileno())
            self._synced = now

    def finish(self) -> None:
        """Write the final chunk and close: the spool is complete."""
        if self._fh.closed:
            return
        self._w.finish()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def close(self) -> None:
        """Close without finishing (the process is going away): what was flushed stays,
        readable by ``read_spool``."""
        if not self._fh.closed:
            self._w.abort()
            self._fh.flush()
            self._fh.close()


def read_spool(path: Path, dek: bytes) -> Iterator[bytes]:
    """The spooled PCM: all of it when the spool was finished, every complete chunk when
    the writer was killed."""
    with open(path, "rb") as fh:
        yield from recover_chunks(fh, dek)
