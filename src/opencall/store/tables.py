"""SQLAlchemy tables. Vapi objects live in a JSON column; what is filtered or joined on gets a real column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC: SQLite has no time zones, and comparisons must agree on both."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    # Millisecond precision: Vapi timestamps carry milliseconds, and filters compare what clients saw.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    server: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """`private` (server-side, every route) or `public` (browser web calls only)."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """sha256 hex of the key; the key itself is shown once and never stored."""
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Resource(Base):
    """Columns every org-scoped Vapi object shares."""

    __abstract__ = True

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The Vapi object as sent (camelCase), without id/orgId/createdAt/updatedAt."""


class Assistant(Resource):
    __tablename__ = "assistants"


class Squad(Resource):
    __tablename__ = "squads"


class Tool(Resource):
    __tablename__ = "tools"

    type: Mapped[str] = mapped_column(String(64))


class PhoneNumber(Resource):
    __tablename__ = "phone_numbers"
    __table_args__ = (Index("ix_phone_numbers_org_number", "org_id", "number"),)

    provider: Mapped[str] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assistant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    secrets: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Provider credentials (e.g. twilioAuthToken), Fernet-encrypted JSON; never returned."""


class File(Resource):
    __tablename__ = "files"

    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(Text)
    """Location of the bytes on disk, relative to the data dir."""


class Call(Resource):
    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("org_id", "idempotency_key", name="uq_calls_org_idempotency"),)

    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    assistant_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    phone_number_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider_call_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """The carrier's id for the call (Twilio CallSid)."""
    secrets: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Credentials of a transient phone number given with the call, Fernet-encrypted JSON."""
    seq: Mapped[int] = mapped_column(Integer, default=0)
    """Carrier status callbacks applied so far (Twilio's SequenceNumber + 1 of the last one), so a late
    callback never moves the status backwards."""
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Process that runs the call while it is live; recovery ends calls whose owner stopped beating."""
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Credential(Resource):
    """Vapi credentials (`/credential`); the secret parts of `data` are sealed in `secrets`."""

    __tablename__ = "credentials"

    provider: Mapped[str] = mapped_column(String(64))
    secrets: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxMessage(Base):
    """A server message waiting for, or done with, delivery: written before it is sent, kept after."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        UniqueConstraint("call_id", "seq", name="uq_outbox_call_seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """Stable message id, sent as `X-Message-Id` on every attempt so receivers can drop duplicates."""
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    call_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    """Order within the call; message N+1 is not sent before N is delivered or given up."""
    type: Mapped[str] = mapped_column(String(64))
    server: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The target `Server` (url, headers, timeoutSeconds, backoffPlan, credentialId)."""
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | delivered | failed"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
