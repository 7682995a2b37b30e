"""Compliance's rows: legal holds, data-subject requests (the calls found, disclosure
packages, third-party provision records, transcript corrections), CDR imports and their
reconciliation, breach incidents and the notices sent. Registered on Base by
rokuon.store.models, which re-exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from rokuon.store.models import Base, UTCDateTime, new_id, utcnow


class LegalHold(Base):
    """Blocks deletion of the calls it covers: one call, every call of a customer
    number, and/or calls started in a date range."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(32), index=True)
    customer_number: Mapped[str | None] = mapped_column(String(64), index=True)
    date_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    date_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(320))


class DataRequest(Base):
    """A data subject's request (APPI art. 33–35, GDPR art. 15–21): disclosure,
    correction, stop-use or erasure — with its deadline, identity check and outcome."""

    __tablename__ = "data_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20), default="disclosure")
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    customer_number: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_name: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(320))
    date_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    date_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {"method", "verified_by", "verified_at", "note"}
    identity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fee_yen: Mapped[int | None] = mapped_column(Integer)
    fee_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DataRequestCall(Base):
    """One located call of a request and the decision on it."""

    __tablename__ = "data_request_calls"
    __table_args__ = (UniqueConstraint("request_id", "call_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"),
                                            index=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)  # may be erased later
    decision: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DisclosureExport(Base):
    """An encrypted disclosure package kept for download through an expiring link
    (only the token's hash is stored)."""

    __tablename__ = "disclosure_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"),
                                            index=True)
    blob_key: Mapped[str] = mapped_column(String(300))
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    downloads: Mapped[int] = mapped_column(Integer, default=0)


class DisclosureReview(Base):
    """The four-eyes review of a disclosure package: built as a draft with the
    detector's third-party masking suggestions; a second compliance person (never the
    builder) accepts or rejects each, adds spans, and approves; only then is it
    published. ``spans``: {call_id: [{"id", "start", "end", "type", "chars",
    "source", "state"}]} with state suggested | accepted | rejected."""

    __tablename__ = "disclosure_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    agent_voice: Mapped[str] = mapped_column(String(10), default="mute")
    spans: Mapped[dict[str, Any]] = mapped_column(JSON)
    built_by: Mapped[str] = mapped_column(String(320))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(320))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    export_id: Mapped[int | None] = mapped_column(Integer)


class ThirdPartyProvision(Base):
    """A record of personal data given to someone outside (APPI art. 29): who received
    which recordings, when, on what basis."""

    __tablename__ = "third_party_provisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(300))
    basis: Mapped[str] = mapped_column(Text)
    call_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    provided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(320))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TranscriptCorrection(Base):
    """A correction of a transcript line (the original text is kept)."""

    __tablename__ = "transcript_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    segment_idx: Mapped[int] = mapped_column(Integer)
    original_text: Mapped[str] = mapped_column(Text)
    corrected_text: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(32))
    corrected_by: Mapped[str] = mapped_column(String(320))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CdrImport(Base):
    """One imported CDR file: where it came from and what it changed."""

    __tablename__ = "cdr_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(320))


class CdrRecord(Base):
    """A call detail record from the telephony system (Asterisk, FreeSWITCH, Twilio),
    the independent list of calls that reconciliation checks the recordings against."""

    __tablename__ = "cdr_records"
    __table_args__ = (UniqueConstraint("source", "unique_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))  # asterisk | freeswitch | twilio
    unique_id: Mapped[str] = mapped_column(String(200))
    related_id: Mapped[str | None] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    billsec: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[str] = mapped_column(String(20), index=True)
    raw_status: Mapped[str | None] = mapped_column(String(50))
    src: Mapped[str | None] = mapped_column(String(200))
    dst: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(200))
    dst_channel: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(100))
    import_id: Mapped[int | None] = mapped_column(Integer, index=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CdrReconcileRun(Base):
    """One reconciliation of CDRs against recordings (by hand or the daily run)."""

    __tablename__ = "cdr_reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ran_by: Mapped[str] = mapped_column(String(320))
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    matched: Mapped[int] = mapped_column(Integer, default=0)
    missing_recordings: Mapped[int] = mapped_column(Integer, default=0)
    recordings_without_cdr: Mapped[int] = mapped_column(Integer, default=0)
    # ids only (CDR unique ids, call ids), no numbers
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BreachIncident(Base):
    """A leak, loss or damage of personal data (漏えい等, APPI art. 26): what happened,
    when, the suspected scope and cause, and the two reports to the PPC."""

    __tablename__ = "breach_incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    occurred_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    occurred_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scope: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(Text)
    unauthorized_access: Mapped[bool] = mapped_column(Boolean, default=False)
    data_items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # how the affected calls are found in the audit log: {"from", "to", "actors", "actions"}
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secondary_damage: Mapped[str | None] = mapped_column(Text)
    prevention: Mapped[str | None] = mapped_column(Text)
    response_to_persons: Mapped[str | None] = mapped_column(Text)
    preliminary_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    final_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BreachNotice(Base):
    """A notice to one affected person (本人への通知) about an incident."""

    __tablename__ = "breach_notices"
    __table_args__ = (UniqueConstraint("incident_id", "person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("breach_incidents.id", ondelete="CASCADE"), index=True)
    person: Mapped[str] = mapped_column(String(64))  # the customer number's digits
    call_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    method: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_by: Mapped[str] = mapped_column(String(320))
