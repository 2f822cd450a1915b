"""The system of record: SQLAlchemy 2 models.

Message bodies and channel addresses are encrypted at rest (``EncryptedText``);
addresses are looked up by keyed hash. A case is a row plus an append-only event
log. Every index names the query it serves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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
    # The person asked to erase the chat while a case was open: their next message
    # (the answer to the confirmation) goes to the bot, not to the case.
    erase_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    # The organisation whose link the person followed (a Telegram /start deep link): their
    # cases go to it.
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), default=None
    )
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
    # Outbound rows being sent: until when their deliverer holds them. A row still
    # "sending" after that had its deliverer die mid-send (bot.outbox.recover).
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue: an organisation's cases by status, most urgent then oldest first.
        Index("ix_cases_org_status_priority", "organisation_id", "status", "priority", "opened_at"),
        # Finding the open case of a conversation when a message arrives in human mode.
        Index("ix_cases_conversation_status", "conversation_id", "status"),
        # The deadline sweep: open cases whose first response is overdue.
        Index("ix_cases_status_deadline", "status", "deadline_at"),
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
    # The first response is due by then (bot.cases.deadline_for); a caseworker's first
    # reply meets it; the sweep marks it missed once.
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline_missed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The person's rating (1 to 5) after closing; asked at most once per closing.
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    rating_requested_at: Mapped[datetime | None] = mapped_column(default=None)

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


# --- Services directory (Open Referral HSDS 3.0, the tables the helpline uses) ---
# ``hsds_id`` keeps the identifier an imported file gave a row, so that importing the
# same directory again updates rows instead of duplicating them.


class DirectoryOrganization(Base):
    """HSDS ``organization``: who runs services (optionally a CSO on the helpline)."""

    __tablename__ = "directory_organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    alternate_name: Mapped[str | None] = mapped_column(String(300), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    website: Mapped[str | None] = mapped_column(String(500), default=None)
    # The helpline organisation whose caseworkers answer referrals to these services.
    helpline_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), default=None
    )
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    services: Mapped[list[DirectoryService]] = relationship(
        back_populates="organization", order_by="DirectoryService.id"
    )


class DirectoryService(Base):
    """HSDS ``service``, with the needs it meets (HSDS attributes of our taxonomy)."""

    __tablename__ = "directory_services"
    __table_args__ = (
        # The bot's search: a country's active services (joined to their locations).
        Index("ix_directory_services_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("directory_organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(300))
    alternate_name: Mapped[str | None] = mapped_column(String(300), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    url: Mapped[str | None] = mapped_column(String(500), default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    # HSDS: active, inactive, defunct, temporarily closed.
    status: Mapped[str] = mapped_column(String(30), default="active")
    # Codes of bot.directory.NEEDS.
    needs: Mapped[list[Any]] = mapped_column(default=list)
    eligibility_description: Mapped[str | None] = mapped_column(Text, default=None)
    minimum_age: Mapped[int | None] = mapped_column(Integer, default=None)
    maximum_age: Mapped[int | None] = mapped_column(Integer, default=None)
    application_process: Mapped[str | None] = mapped_column(Text, default=None)
    fees_description: Mapped[str | None] = mapped_column(Text, default=None)
    interpretation_services: Mapped[str | None] = mapped_column(Text, default=None)
    # HSDS assured_date: when someone last checked that the details are right.
    assured_date: Mapped[str | None] = mapped_column(String(10), default=None)
    assurer_email: Mapped[str | None] = mapped_column(String(200), default=None)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[DirectoryOrganization] = relationship(back_populates="services")
    at_locations: Mapped[list[DirectoryServiceAtLocation]] = relationship(
        back_populates="service", cascade="all, delete-orphan"
    )
    languages: Mapped[list[DirectoryLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="DirectoryLanguage.id"
    )
    phones: Mapped[list[DirectoryPhone]] = relationship(
        cascade="all, delete-orphan", order_by="DirectoryPhone.id"
    )
    schedules: Mapped[list[DirectorySchedule]] = relationship(
        cascade="all, delete-orphan", order_by="DirectorySchedule.id"
    )


class DirectoryLocation(Base):
    """HSDS ``location`` with its physical ``address`` folded in (one address a location)."""

    __tablename__ = "directory_locations"
    __table_args__ = (
        # The bot's search: locations in the person's country, then city.
        Index("ix_directory_locations_country_city", "country", "city"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("directory_organizations.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str | None] = mapped_column(String(300), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    transportation: Mapped[str | None] = mapped_column(Text, default=None)
    latitude: Mapped[str | None] = mapped_column(String(20), default=None)
    longitude: Mapped[str | None] = mapped_column(String(20), default=None)
    address_hsds_id: Mapped[str | None] = mapped_column(String(64), default=None)
    address_1: Mapped[str | None] = mapped_column(String(300), default=None)
    city: Mapped[str | None] = mapped_column(String(120), default=None)
    region: Mapped[str | None] = mapped_column(String(120), default=None)
    state_province: Mapped[str | None] = mapped_column(String(120), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    # ISO 3166 alpha-2.
    country: Mapped[str | None] = mapped_column(String(2), default=None)


class DirectoryServiceAtLocation(Base):
    """HSDS ``service_at_location``: where a service is delivered."""

    __tablename__ = "directory_service_at_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The search joins services to locations through here, from either side.
    service_id: Mapped[int] = mapped_column(
        ForeignKey("directory_services.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("directory_locations.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text, default=None)

    service: Mapped[DirectoryService] = relationship(back_populates="at_locations")
    location: Mapped[DirectoryLocation] = relationship()


class DirectoryLanguage(Base):
    """HSDS ``language``: a language a service is offered in (ISO 639-1 code)."""

    __tablename__ = "directory_languages"

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Loading a service's languages.
    service_id: Mapped[int] = mapped_column(
        ForeignKey("directory_services.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class DirectoryPhone(Base):
    """HSDS ``phone`` of a service: public numbers, not people's."""

    __tablename__ = "directory_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Loading a service's phones.
    service_id: Mapped[int] = mapped_column(
        ForeignKey("directory_services.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(50))
    extension: Mapped[str | None] = mapped_column(String(20), default=None)
    type: Mapped[str | None] = mapped_column(String(20), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)


class DirectorySchedule(Base):
    """HSDS ``schedule`` of a service (iCalendar-style recurrence, opening hours)."""

    __tablename__ = "directory_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    hsds_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Loading a service's schedules.
    service_id: Mapped[int] = mapped_column(
        ForeignKey("directory_services.id", ondelete="CASCADE"), index=True
    )
    freq: Mapped[str | None] = mapped_column(String(10), default=None)
    byday: Mapped[str | None] = mapped_column(String(40), default=None)
    opens_at: Mapped[str | None] = mapped_column(String(8), default=None)
    closes_at: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str | None] = mapped_column(String(40), default=None)
    valid_from: Mapped[str | None] = mapped_column(String(10), default=None)
    valid_to: Mapped[str | None] = mapped_column(String(10), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)


class DailyCount(Base):
    """What retention keeps of erased transcripts: anonymous counts, nothing more.

    ``metric`` is ``messages_in``, ``messages_out``, ``cases``, ``outcome:<outcome>``,
    ``risk:<risk>`` or ``indicator:<code>``.
    """

    __tablename__ = "daily_counts"
    __table_args__ = (
        # Adding to a day's count (retention), and reading a period's counts by day.
        UniqueConstraint("day", "channel", "language", "metric", name="uq_daily_counts_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))
    metric: Mapped[str] = mapped_column(String(60))
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who viewed or did what to which case, and when. Append-only.

    ``case_id`` is deliberately not a foreign key: the trail outlives the case rows
    that retention deletes. It never holds a message body or an address.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        # A case's audit trail, for its supervisors.
        Index("ix_audit_log_case", "case_id", "id"),
        # What one user viewed and did, newest first.
        Index("ix_audit_log_user", "user_id", "id"),
        # An organisation's trail, by time.
        Index("ix_audit_log_org_created", "organisation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    organisation_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(Integer, default=None)
    action: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """Something an organisation's supervisors must see (a missed first-response deadline)."""

    __tablename__ = "alerts"
    __table_args__ = (
        # A supervisor's alerts: the organisation's unacknowledged ones first, newest first.
        Index("ix_alerts_org_ack", "organisation_id", "acknowledged_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class Referral(Base):
    """A person referred from a case to a service or another organisation, and what came of it.

    Only what the person agreed to share travels (``shared``); the summary is encrypted.
    """

    __tablename__ = "referrals"
    __table_args__ = (
        # The referring organisation's list, and the overdue sweep (by status).
        Index("ix_referrals_from_status", "from_organisation_id", "status"),
        # The receiving organisation's inbox.
        Index("ix_referrals_to_status", "to_organisation_id", "status"),
        # A case page's referrals.
        Index("ix_referrals_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    from_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    to_service_id: Mapped[int | None] = mapped_column(
        ForeignKey("directory_services.id", ondelete="SET NULL"), default=None
    )
    # The helpline organisation that answers: chosen directly, or the one behind the service.
    to_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    status: Mapped[str] = mapped_column(String(12))
    needs: Mapped[list[Any]] = mapped_column(default=list)
    consent_method: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column()
    # What the person agreed to share (bot.referrals.SHAREABLE).
    shared: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    response_note: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    responded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An answer is due by then; once accepted, an outcome by follow_up_at.
    respond_by: Mapped[datetime] = mapped_column()
    follow_up_by: Mapped[datetime | None] = mapped_column(default=None)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(default=None)

    case: Mapped[Case] = relationship()
    to_service: Mapped[DirectoryService | None] = relationship()
    from_organisation: Mapped[Organisation] = relationship(foreign_keys=[from_organisation_id])
    to_organisation: Mapped[Organisation | None] = relationship(foreign_keys=[to_organisation_id])
