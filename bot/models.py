"""The system of record: SQLAlchemy 2 models.

Message bodies and channel addresses are encrypted at rest (``EncryptedText``);
addresses are looked up by keyed hash. A case is a row plus an append-only event
log. Every index names the query it serves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot import crypto


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use bot.models.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token with the configured data keys."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return crypto.cipher().encrypt(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return crypto.cipher().decrypt(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it once
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Empty list: the organisation takes every language / country.
    languages: Mapped[list[Any]] = mapped_column(default=list)
    countries: Mapped[list[Any]] = mapped_column(default=list)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="users")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Only a hash of the bearer token is stored; lookup on every API request.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship()


class Contact(Base):
    """A person on one channel, known by a keyed hash of their address."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Finding the contact of an inbound message: (channel, hash of the sender address).
        UniqueConstraint("channel", "address_hash", name="uq_contacts_channel_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(EncryptedText)
    # The id Rasa and the logs see; says nothing about the person.
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One conversation per contact; the unique index also serves the lookup by contact.
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), unique=True
    )
    mode: Mapped[str] = mapped_column(String(10), default="bot")
    language: Mapped[str] = mapped_column(String(8), default="en")
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    last_inbound_at: Mapped[datetime | None] = mapped_column(default=None)
    # The choices last offered ([{"title", "payload"}]): a reply "2" or a button's short
    # key is read against them (channels.base.Channel.interpret).
    last_menu: Mapped[list[Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship()


class Message(Base):
    """Inbound messages are the durable inbox; outbound ones the outbox."""

    __tablename__ = "messages"
    __table_args__ = (
        # Deduplicating provider retries: one row per (channel, provider message id).
        UniqueConstraint("channel", "provider_id", name="uq_messages_channel_provider_id"),
        # The worker's read: pending inbound messages of a conversation, oldest first.
        Index("ix_messages_conversation_status", "conversation_id", "direction", "status", "id"),
        # The startup sweep: every conversation with pending work.
        Index("ix_messages_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    author: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(100), default=None)
    body: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    # Buttons, media references and other structured parts, encrypted like the body.
    payload: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue: an organisation's cases by status, most urgent then oldest first.
        Index("ix_cases_org_status_priority", "organisation_id", "status", "priority", "opened_at"),
        # Finding the open case of a conversation when a message arrives in human mode.
        Index("ix_cases_conversation_status", "conversation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10))
    # Lower is more urgent (see bot.cases.PRIORITIES).
    priority: Mapped[int] = mapped_column(Integer)
    risk: Mapped[str] = mapped_column(String(10), default="none")
    reason: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    consent: Mapped[str | None] = mapped_column(String(30), default=None)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    outcome: Mapped[str | None] = mapped_column(String(30), default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    conversation: Mapped[Conversation] = relationship()
    organisation: Mapped[Organisation] = relationship()
    assigned_user: Mapped[User | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id")


class CaseEvent(Base):
    """Append-only: opened, assigned, message, note, released, closed, reopened, delivery_failed,
    attachment_opened."""

    __tablename__ = "case_events"
    __table_args__ = (
        # A case page's timeline.
        Index("ix_case_events_case", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # Free text of notes is encrypted like message bodies.
    text: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
