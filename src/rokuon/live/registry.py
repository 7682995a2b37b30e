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
    """Who may pause or resume a live call: whoever has it in scope (the door's rule:
    admins and compliance any, a supervisor their team's, an operator their own)."""
    return in_live_scope(principal, session)


def in_live_scope(principal: Principal, session: LiveSession) -> bool:
    from rokuon.access.door import in_scope

    meta = session.meta
    team = meta.extra().get("team")
    return in_scope(principal, agent=meta.agent, team=str(team) if team else None,
                    queue=meta.queue)
