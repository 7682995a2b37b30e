"""The live calls of this process, by call id (pause/resume, the live board)."""

from __future__ import annotations

import threading

from rokuon.access.principal import Principal
from rokuon.live.session import LiveSession


class LiveRegistry:
    def __init__(self) -> None:
        self._d: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    def add(self, session: LiveSession) -> None:
        with self._lock:
            self._d[session.call_id] = session

    def remove(self, call_id: str) -> None:
        with self._lock:
            self._d.pop(call_id, None)

    def get(self, call_id: str) -> LiveSession | None:
        with self._lock:
            return self._d.get(call_id)

    def all(self) -> list[LiveSession]:
        with self._lock:
            return list(self._d.values())


def may_control(principal: Principal, session: LiveSession) -> bool:
    """Who may pause or resume a live call: admins and compliance any; a supervisor the
    calls of their team; an operator their own (metadata 'agent'); tokens as their user."""
    extra = session.meta.extra()
    if principal.role in ("admin", "compliance"):
        return True
    if principal.role == "supervisor":
        return bool(principal.team) and principal.team in (extra.get("team"), session.meta.queue)
    if principal.role == "operator":
        return bool(principal.agent_name) and principal.agent_name == session.meta.agent
    return False
