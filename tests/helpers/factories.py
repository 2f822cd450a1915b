"""Rows for tests: organisations, users, conversations, messages and cases.

Cases are opened through ``bot.cases`` (the one case service), so that a test's
case looks like one the bot opened; which organisation gets it follows routing.
"""

from __future__ import annotations

import itertools
from functools import cache

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from bot import auth, cases
from bot.inbox import address_hash, new_pseudonym
from bot.models import Case, Contact, Conversation, Message, Organisation, User, utcnow

PASSWORD = "correct horse battery staple"
# Argon2 at its production cost takes a quarter of a second; tests that are not about
# the cost use this (``monkeypatch.setattr(auth, "_hasher", FAST_HASHER)``).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_numbers = itertools.count(1)


@cache
def _password_hash() -> str:
    return FAST_HASHER.hash(PASSWORD)


def organisation(
    session: Session,
    name: str | None = None,
    *,
    languages: list[str] | None = None,
    countries: list[str] | None = None,
) -> Organisation:
    org = Organisation(
        name=name or f"Organisation {next(_numbers)}",
        languages=languages or [],
        countries=countries or [],
    )
    session.add(org)
    session.flush()
    return org


def user(
    session: Session,
    org: Organisation,
    username: str | None = None,
    *,
    role: str = cases.CASEWORKER,
) -> User:
    """A user whose password is ``PASSWORD``."""
    account = User(
        organisation_id=org.id,
        username=username or f"user{next(_numbers)}",
        role=role,
        password_hash=_password_hash(),
    )
    session.add(account)
    session.flush()
    return account


def token(session: Session, account: User) -> str:
    value, _lifetime = auth.issue_token(session, account)
    session.flush()
    return value


def conversation(
    session: Session,
    *,
    channel: str = "web",
    address: str | None = None,
    language: str = "en",
    country: str | None = None,
    mode: str = "bot",
) -> Conversation:
    address = address or f"simulator:person-{next(_numbers)}"
    contact = Contact(
        channel=channel,
        address_hash=address_hash(channel, address),
        address=address,
        pseudonym=new_pseudonym(),
        language=language,
        country=country,
    )
    # Every conversation starts with the person writing.
    conv = Conversation(
        contact=contact, mode=mode, language=language, country=country, last_inbound_at=utcnow()
    )
    session.add_all([contact, conv])
    session.flush()
    return conv


def inbound(
    session: Session, conv: Conversation, text: str | None = "hello", *, status: str = "received"
) -> Message:
    message = Message(
        conversation_id=conv.id,
        direction="in",
        author="person",
        channel=conv.contact.channel,
        provider_id=f"p-{next(_numbers)}",
        body=text,
        status=status,
    )
    session.add(message)
    session.flush()
    return message


def case(
    session: Session,
    conv: Conversation | None = None,
    *,
    language: str = "en",
    country: str | None = None,
    priority: str = "request",
    reason: str = "request_human",
) -> Case:
    """An open case of ``conv`` (a new conversation in ``language``/``country`` when not given)."""
    conv = conv or conversation(session, language=language, country=country)
    opened = cases.open_case(
        session, conv, reason=reason, priority=priority, channel=conv.contact.channel
    )
    session.flush()
    return opened.case
