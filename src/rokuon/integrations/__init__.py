"""Outbound integrations (docs/integrations.md): Standard Webhooks and Slack deliveries
from a transactional outbox, and the alert store.

``emit(session, event_type, data)`` announces an event; ``raise_alert(session, …)``
stores an alert (once per call + rule + kind) and announces it as ``alert.raised``."""

from rokuon.integrations.alerts import raise_alert
from rokuon.integrations.webhooks import EVENT_TYPES, emit

__all__ = ["EVENT_TYPES", "emit", "raise_alert"]
