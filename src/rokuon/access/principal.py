"""Who is asking: a signed-in user, an API token holder, or the local CLI admin."""

from __future__ import annotations

import socket
from dataclasses import dataclass

ROLES = ("admin", "compliance", "supervisor", "operator", "auditor")


@dataclass(frozen=True)
class Principal:
    name: str  # e-mail, or "cli@HOST"
    role: str
    team: str | None = None
    agent_name: str | None = None  # the operator's name as it appears in call metadata
    user_id: int | None = None
    source: str | None = None  # client address

    @classmethod
    def cli(cls) -> Principal:
        return cls(name=f"cli@{socket.gethostname()}", role="admin", source="cli")
