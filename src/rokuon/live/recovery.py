"""At start-up: the live calls a crash (or a kill) cut off become normal calls from what
their spool holds, so no call is lost."""

from __future__ import annotations

import logging

from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.live.session import LiveError, finish_live_call
from rokuon.runtime import Runtime
from rokuon.store.models import LiveCall, LiveState

log = logging.getLogger("rokuon.live")


def recover_interrupted(rt: Runtime, active: set[str] | None = None) -> list[str]:
    """Finish every live call left receiving or finishing (except ``active`` ones, which
    this process is still receiving). Returns the call ids stored."""
    with rt.db.session() as s:
        ids = s.scalars(select(LiveCall.id).where(
            LiveCall.state.in_([LiveState.RECEIVING, LiveState.FINISHING]))).all()
    done = []
    for live_id in ids:
        if active and live_id in active:
            continue
        try:
            finish_live_call(rt, live_id, Principal.cli(),
                             reason="recovered after an interruption: audio up to the last "
                                    "second written")
            done.append(live_id)
            log.warning("live call %s was interrupted; stored from its spool", live_id)
        except LiveError as exc:
            log.error("%s", exc)
    return done
