"""SQLAlchemy 2 models: the data model of rokuon.

Call ─┬─ Party (agent/customer, channel)
      ├─ Transcript (versioned) ── Segment (speaker, times, text, words, confidence)
      ├─ AnalysisResult (analyzer + version + JSON payload)
      ├─ PipelineJob (one per step, state + attempts + lease) and PipelineEvent (history)
User, WebSession, AuditEntry.
Capabilities with their own tables keep them in models_<capability>.py (compliance,
coaching, assist, workspace), imported at the end of this module so that every table is
registered and ``from rokuon.store.models import X`` works for all of them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class CallStatus:
    RECEIVED = "received"
    STORED = "stored"
    TRANSCRIBED = "transcribed"
    ANALYZED = "analyzed"
    INDEXED = "indexed"
    FAILED = "failed"
    ORDER = (RECEIVED, STORED, TRANSCRIBED, ANALYZED, INDEXED)
    TERMINAL = (INDEXED, FAILED)


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=CallStatus.RECEIVED, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)

    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    direction: Mapped[str | None] = mapped_column(String(10), index=True)
    agent: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_number: Mapped[str | None] = mapped_column(String(64), index=True)
    queue: Mapped[str | None] = mapped_column(String(200), index=True)
    purposes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extra_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    source: Mapped[str] = mapped_column(String(20), default="cli")  # cli | api | watch
    original_filename: Mapped[str | None] = mapped_column(String(500))
    container: Mapped[str] = mapped_column(String(50))
    codec: Mapped[str] = mapped_column(String(50))
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)

    blob_key: Mapped[str] = mapped_column(String(300))
    wrapped_key: Mapped[str | None] = mapped_column(Text)  # None once crypto-shredded
    # PCI mode: the stored blob is a bleeped copy; its own hash (content_sha256 stays the
    # original's, for duplicate detection) and what was bleeped (types and times only)
    blob_sha256: Mapped[str | None] = mapped_column(String(64))
    redactions: Mapped[list[Any] | None] = mapped_column(JSON)
    # stop-use (APPI art. 35): kept for its legal purpose, out of analytics and exports
    use_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    use_stopped_reason: Mapped[str | None] = mapped_column(Text)
    # PCI quarantine: card-data masking failed or was unsure; out of search and playback
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    blob_size: Mapped[int] = mapped_column(Integer)

    qa_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    parties: Mapped[list[Party]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Party.id"
    )


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # agent | customer | speaker_N
    channel: Mapped[int | None] = mapped_column(Integer)  # None = mono / diarized
    name: Mapped[str | None] = mapped_column(String(200))

    call: Mapped[Call] = relationship(back_populates="parties")


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("call_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    engine: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(10))
    diarization: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dropped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # PCI findings masked before the transcript was stored (types and times, no values)
    redactions: Mapped[list[Any] | None] = mapped_column(JSON)
    # stereo: voice activity per role, {role: [[start, end], …]} (reused by the analysis)
    speech: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # what produced it: model (spec, path, sha256), decoding options, numerics, code versions
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_call_start", "call_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(20))
    channel: Mapped[int | None] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    norm_text: Mapped[str] = mapped_column(Text)  # rokuon.text.normalize(text), for search
    # katakana reading (rokuon.text.readings), for search by reading; set when indexed
    reading: Mapped[str | None] = mapped_column(Text, nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[text, start, end, prob]]
    # set when the stretch is not in the call's language ("en") or was not intelligible
    # ("und"); None = the transcript's language
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AnalysisResult(Base):
    __tablename__ = "analysis_results"
    __table_args__ = (UniqueConstraint("call_id", "analyzer", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    analyzer: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    transcript_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobStatus:
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PipelineJob(Base):
    __tablename__ = "pipeline_jobs"
    __table_args__ = (
        UniqueConstraint("call_id", "step"),
        Index("ix_jobs_claim", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))  # transcribe | analyze | index
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PipelineEvent(Base):
    __tablename__ = "pipeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    team: Mapped[str | None] = mapped_column(String(100))
    agent_name: Mapped[str | None] = mapped_column(String(200))  # as in call metadata "agent"
    password_hash: Mapped[str] = mapped_column(String(300))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_secret: Mapped[str | None] = mapped_column(Text)  # TOTP secret, wrapped by the KEK
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    recovery_codes: Mapped[list[Any] | None] = mapped_column(JSON, default=list)  # hashes
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # replay guard


class AuthThrottle(Base):
    """Failed sign-in steps per key (a client address) in a fixed window."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer)


class BreakGlassGrant(Base):
    """A justified, time-limited opening of one call outside the user's scope."""

    __tablename__ = "break_glass_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(String(32))
    justification: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeletionRecord(Base):
    """What was erased, when, why and by whom — without personal data."""

    __tablename__ = "deletion_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    policy: Mapped[str | None] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(50), default="crypto-shred")


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    mfa_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained: hash = HMAC(audit key, prev_hash | canonical entry)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)  # None: pre-chain entry
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditHead(Base):
    """One row: the chain's last sequence number and hash (also the append lock)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="0" * 64)


class AuditCheckpoint(Base):
    """An Ed25519 signature over (seq, hash) that outsiders verify with the public key."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signature: Mapped[str] = mapped_column(Text)  # base64
    key_id: Mapped[str] = mapped_column(String(64))


class LiveState:
    RECEIVING = "receiving"  # audio is arriving
    FINISHING = "finishing"  # the stream stopped; becoming a normal call
    DONE = "done"  # the call exists (its id is this row's id)
    FAILED = "failed"  # could not become a call: the spool is kept, state_reason says why


class LiveCall(Base):
    """A call being captured live. Its audio is spooled, encrypted in one-second chunks,
    under HOME/live/; when the stream stops (or at the next start after a crash) the spool
    becomes a normal call with this id and goes through the batch pipeline."""

    __tablename__ = "live_calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(20))  # twilio | ws | audiosocket
    stream_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=LiveState.RECEIVING, index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    call_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[str] = mapped_column(Text)
    spool: Mapped[str] = mapped_column(String(300))
    paused: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start_s, end_s|None]…]
    received_s: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                 onupdate=utcnow)


class CallKpi(Base):
    """A call's figures for the reports (rokuon.reports), written with its analysis so
    that a dashboard over 100 000 calls aggregates narrow rows instead of JSON blobs.
    None = the analysis could not say (one-sided call, analyzer error)."""

    __tablename__ = "call_kpis"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         primary_key=True)
    agent_talk_s: Mapped[float | None] = mapped_column(Float)
    customer_talk_s: Mapped[float | None] = mapped_column(Float)
    agent_share: Mapped[float | None] = mapped_column(Float)  # agent talk / all talk
    silence_s: Mapped[float | None] = mapped_column(Float)
    hold_s: Mapped[float | None] = mapped_column(Float)
    overlap_s: Mapped[float | None] = mapped_column(Float)
    interruptions: Mapped[int | None] = mapped_column(Integer)
    fillers: Mapped[int | None] = mapped_column(Integer)  # the agent's
    qa_score: Mapped[float | None] = mapped_column(Float)
    qa_passed: Mapped[bool | None] = mapped_column(Boolean)
    complaint: Mapped[bool | None] = mapped_column(Boolean)
    churn: Mapped[bool | None] = mapped_column(Boolean)
    negative: Mapped[bool | None] = mapped_column(Boolean)  # customer sentiment
    announced: Mapped[bool | None] = mapped_column(Boolean)  # recording announcement
    pii: Mapped[int | None] = mapped_column(Integer)  # personal / card data findings
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                 onupdate=utcnow)


class CallKeywordHit(Base):
    """How often a keyword (NG, GOOD, custom lists; churn cues; competitor names) was
    heard in a call, for the keyword ranking."""

    __tablename__ = "call_keyword_hits"
    __table_args__ = (UniqueConstraint("call_id", "list", "word"),
                      Index("ix_call_keyword_hits_word", "list", "word"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         index=True)
    list: Mapped[str] = mapped_column(String(50))
    word: Mapped[str] = mapped_column(String(200))
    hits: Mapped[int] = mapped_column(Integer)


class WebhookEndpoint(Base):
    """Where events go (rokuon.integrations): a Standard Webhooks receiver or a Slack
    incoming-webhook URL. The signing secret is stored encrypted (rokuon.integrations)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10), default="standard")  # standard | slack
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    wrapped_secret: Mapped[str | None] = mapped_column(Text)  # None for Slack
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint, written in the transaction that caused
    it, sent by the delivery worker with retries (pending → delivered | dead)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), index=True)  # the webhook-id header
    event_type: Mapped[str] = mapped_column(String(50))
    call_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    response_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Alert(Base):
    """A real-time or batch alert on a call, with its evidence; one per call + rule +
    kind. ``call_id`` has no foreign key: a live call's alerts come before its row."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("call_id", "rule", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    speaker: Mapped[str | None] = mapped_column(String(50))
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")  # masked
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# the coaching cycle's tables live in their own module (registered on Base here)
from rokuon.store.models_assist import FaqEntry  # noqa: E402, F401 - and FAQ assist's
from rokuon.store.models_coaching import CallComment, QaOverride  # noqa: E402, F401
from rokuon.store.models_compliance import (  # noqa: E402, F401 - compliance's tables
    BreachIncident,
    BreachNotice,
    CdrImport,
    CdrReconcileRun,
    CdrRecord,
    DataRequest,
    DataRequestCall,
    DisclosureExport,
    LegalHold,
    ThirdPartyProvision,
    TranscriptCorrection,
)
from rokuon.store.models_integrations import (  # noqa: E402, F401 - CRM and SMS outboxes
    CrmDelivery,
    SmsMessage,
    SmsOptOut,
)
from rokuon.store.models_live_rules import (  # noqa: E402, F401 - live calls as data
    LivePreregistration,
    LiveRuleVersion,
)
from rokuon.store.models_scorecards import (  # noqa: E402, F401 - scorecards as data
    RescoreDelta,
    RescoreRun,
    ScorecardVersion,
)
from rokuon.store.models_workspace import (  # noqa: E402, F401 - the supervisor's workspace
    SavedView,
    TranscriptTerms,
)
