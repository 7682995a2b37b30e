"""Decoded audio kept in memory for the player's follow-up Range requests — reachable
only with the Call row that the door returned for the current request.

``get``/``put`` take that row, not an id: there is no way to ask for bytes by id
alone, so every request (every Range form) has passed scope, purpose and audit first.
The key also holds the call's blob and wrapped key, so a re-keyed or replaced
recording never matches an old entry. Entries expire after ``ttl_s`` and are dropped
the moment a call is deleted (erasure, retention) or changed (stop-use, purposes,
key) in any session of this process.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from rokuon.store.models import Call

_caches: weakref.WeakSet[PlaybackCache] = weakref.WeakSet()


def _key(call: Call) -> tuple[str, str, str]:
    wrapped = hashlib.sha256((call.wrapped_key or "").encode()).hexdigest()
    return call.id, call.blob_key or "", wrapped


class PlaybackCache:
    def __init__(self, size: int = 2, ttl_s: float = 300.0) -> None:
        self.size, self.ttl_s = size, ttl_s
        self._d: OrderedDict[tuple[str, str, str], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, call: Call) -> bytes | None:
        if call.wrapped_key is None or call.use_stopped_at is not None:
            return None
        k = _key(call)
        with self._lock:
            hit = self._d.get(k)
            if hit is None:
                return None
            if time.monotonic() - hit[0] > self.ttl_s:
                del self._d[k]
                return None
            self._d.move_to_end(k)
            return hit[1]

    def put(self, call: Call, data: bytes) -> None:
        if call.wrapped_key is None or call.use_stopped_at is not None:
            return  # a stopped call is played for legal purposes only: never kept
        with self._lock:
            self._d[_key(call)] = (time.monotonic(), data)
            self._d.move_to_end(_key(call))
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def forget(self, call_id: str) -> None:
        with self._lock:
            for k in [k for k in self._d if k[0] == call_id]:
                del self._d[k]

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._d)


def forget_everywhere(call_id: str) -> None:
    for c in list(_caches):
        c.forget(call_id)


@event.listens_for(Session, "after_flush")
def _forget_changed_calls(session: Session, _ctx: Any) -> None:
    """Any flushed deletion or change of a call (erase, retention purge, stop-use,
    purposes, key rotation) drops its decoded audio from every cache at once."""
    if not _caches:
        return
    for obj in (*session.deleted, *session.dirty):
        if isinstance(obj, Call):
            forget_everywhere(obj.id)
