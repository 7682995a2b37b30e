"""What an analysed call adds to the outboxes besides ``call.analyzed`` webhooks: its
CRM activities and, when the SMS rule says so, a queued follow-up SMS — in the analysis
transaction (called from ``webhooks.emit_call_analyzed``)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from rokuon.store.models import Call

log = logging.getLogger("rokuon.crm")


def after_analysis(session: Session, call: Call, results: dict[str, tuple[int, Any]],
                   settings: Any = None) -> None:
    from rokuon.integrations import sms
    from rokuon.integrations.crm import outbox

    if settings is None:
        from rokuon.config import ConfigError, load_settings

        try:
            settings = load_settings()
        except ConfigError as exc:  # the process runs with settings it read before
            log.error("CRM/SMS not queued for call %s: %s", call.id, exc)
            return
    outbox.enqueue(session, call, results, settings)
    sms.enqueue_by_rule(session, settings, call, results)
