"""The durable inbox: every inbound message is a SQL row before it is acknowledged.

``accept`` finds or creates the person's contact and conversation, stores the
message (a provider's retry of the same message id is a no-op) and returns what the
queue needs to wake a worker.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import crypto
from bot.languages import FALLBACK, normalise
from bot.models import Contact, Conversation, Message, Organisation, utcnow
from channels.base import Inbound

# Message statuses. Inbound: received -> done.
# Outbound: queued -> sending -> sent -> delivered, or failed.
RECEIVED = "received"
DONE = "done"
QUEUED = "queued"
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"
# An erased contact's address hash: a random placeholder that matches no address.
ERASED_PREFIX = "erased:"


@dataclass(frozen=True)
class Accepted:
    message_id: int
    conversation_id: int
    duplicate: bool


def address_hash(channel: str, address: str) -> str:
    return crypto.cipher().keyed_hash(f"address:{channel}", address)


def new_pseudonym() -> str:
    return "c_" + secrets.token_hex(12)


def find_contact(session: Session, channel: str, address: str) -> Contact | None:
    return session.scalar(
        select(Contact).where(
            Contact.channel == channel, Contact.address_hash == address_hash(channel, address)
        )
    )


# Built once: SQLAlchemy then finds the compiled statement without building it anew.
# A contact is created with its one conversation and removed only with it.
_KNOWN = (
    select(Contact, Conversation)
    .join(Conversation, Conversation.contact_id == Contact.id)
    .where(Contact.channel == bindparam("channel"), Contact.address_hash == bindparam("hashed"))
)


def contact_and_conversation(session: Session, inbound: Inbound) -> tuple[Contact, Conversation]:
    """The person's contact and their one conversation, created when they first write.

    One query finds both; a new person costs their two inserts, and nothing is read
    back that was just written.
    """
    hashed = address_hash(inbound.channel, inbound.address)
    person = {"channel": inbound.channel, "hashed": hashed}
    known = session.execute(_KNOWN, person).first()
    if known is not None:
        return known[0], known[1]
    language = normalise(inbound.language_hint) or FALLBACK
    contact = Contact(
        channel=inbound.channel,
        address_hash=hashed,
        address=inbound.address,
        pseudonym=new_pseudonym(),
        language=language,
        country=inbound.country_hint,
    )
    conversation = Conversation(
        contact=contact, mode="bot", language=language, country=inbound.country_hint
    )
    try:
        with session.begin_nested():
            session.add_all([contact, conversation])
    except IntegrityError:
        # Another request created the same person at the same moment: use theirs.
        known = session.execute(_KNOWN, person).first()
        assert known is not None
        return known[0], known[1]
    return contact, conversation


def _payload(inbound: Inbound) -> str | None:
    """Attachments and a chosen language, stored with the message (encrypted like its body)."""
    payload: dict[str, Any] = {}
    if inbound.media:
        payload["media"] = [asdict(m) for m in inbound.media]
    if inbound.chosen_language:
        payload["language"] = inbound.chosen_language
    return json.dumps(payload) if payload else None


def accept(session: Session, inbound: Inbound, *, rate_limited: str | None = None) -> Accepted:
    """Store an inbound message once; a repeated provider id returns the stored row.

    ``rate_limited`` (bot.ratelimit) marks a message over the sender's limit: stored
    all the same, but the bot does not read it.
    """
    # A repeat (the provider delivering again) is found by the unique provider id when
    # it is inserted: a new message, the usual case, costs no look-up first.
    contact, conversation = contact_and_conversation(session, inbound)
    # Whoever writes can be written to again (they unblocked the bot, or replied START).
    contact.unreachable = False
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        author="person",
        channel=inbound.channel,
        provider_id=inbound.provider_id,
        body=inbound.text,
        payload=_payload(inbound),
        status=RECEIVED,
        error=rate_limited,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        duplicate = session.execute(
            select(Message.id, Message.conversation_id).where(
                Message.channel == inbound.channel, Message.provider_id == inbound.provider_id
            )
        ).one()
        return Accepted(duplicate.id, duplicate.conversation_id, duplicate=True)
    conversation.last_inbound_at = utcnow()
    # A link naming no organisation (any more) changes nothing.
    chosen = inbound.organisation_id
    if chosen is not None and session.get(Organisation, chosen) is not None:
        conversation.organisation_id = chosen
    return Accepted(message.id, conversation.id, duplicate=False)
