"""Outbound integration rows beside the webhooks outbox: CRM activity deliveries (one per
call and CRM target, upserted by the call id so a retry never makes a second activity),
after-call SMS messages and the SMS opt-out list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rokuon.store.models import Base, UTCDateTime, utcnow


class CrmDelivery(Base):
    """The CRM outbox: the activity of one call for one configured target, written in
    the analysis transaction, sent by the CRM worker (pending → delivered | dead)."""

    __tablename__ = "crm_deliveries"
    __table_args__ = (UniqueConstraint("target", "call_id"),
                      Index("ix_crm_deliveries_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(100), index=True)  # name in crm.yaml
    kind: Mapped[str] = mapped_column(String(20))  # salesforce | hubspot | kintone
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)  # the activity document (JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    response_code: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(100))  # the CRM's record id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsMessage(Base):
    """One after-call SMS: who asked (a rule or a user), to which number, what it said,
    and what the provider answered (queued, sent, failed, refused before sending)."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(20))  # twilio | http
    trigger: Mapped[str] = mapped_column(String(20))  # rule | agent
    status: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsOptOut(Base):
    __tablename__ = "sms_opt_outs"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    source: Mapped[str] = mapped_column(String(20))  # stop-reply | admin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
