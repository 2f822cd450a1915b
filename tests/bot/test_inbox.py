from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select, text

from bot.db import Database
from bot.inbox import RECEIVED, Accepted, accept, find_contact
from bot.models import Contact, Conversation, Message
from channels.base import Inbound, Media
from tests.conftest import TEST_DATABASE_URL

PHONE = "+96170123456"


def inbound(
    provider_id: str = "SM1",
    *,
    address: str = PHONE,
    channel: str = "sms",
    text: str | None = "hello",
    **extra: object,
) -> Inbound:
    return Inbound(channel=channel, address=address, provider_id=provider_id, text=text, **extra)  # type: ignore[arg-type]


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_accept_creates_contact_conversation_and_message(db: Database) -> None:
    with db.session() as session:
        accepted = accept(session, inbound(country_hint="LB"))

    assert accepted.duplicate is False
    with db.session() as session:
        message = session.get(Message, accepted.message_id)
        conversation = session.get(Conversation, accepted.conversation_id)
        assert message is not None and conversation is not None
        assert (
            message.direction,
            message.author,
            message.channel,
            message.provider_id,
            message.body,
            message.status,
        ) == ("in", "person", "sms", "SM1", "hello", RECEIVED)
        assert message.conversation_id == conversation.id
        assert (conversation.mode, conversation.language, conversation.country) == (
            "bot",
            "en",
            "LB",
        )
        assert conversation.last_inbound_at is not None
        contact = conversation.contact
        assert (contact.channel, contact.address, contact.country) == ("sms", PHONE, "LB")
        assert contact.pseudonym.startswith("c_")
        assert PHONE not in contact.pseudonym


def test_duplicate_provider_id_is_a_no_op(db: Database) -> None:
    with db.session() as session:
        first = accept(session, inbound("SM1", text="first"))
    with db.session() as session:
        again = accept(session, inbound("SM1", text="first, delivered twice"))

    assert (again.message_id, again.conversation_id, again.duplicate) == (
        first.message_id,
        first.conversation_id,
        True,
    )
    assert count(db, Message) == 1
    with db.session() as session:
        assert session.get(Message, first.message_id).body == "first"  # type: ignore[union-attr]


def test_same_provider_id_on_another_channel_is_another_message(db: Database) -> None:
    with db.session() as session:
        sms = accept(session, inbound("X1", channel="sms"))
        telegram = accept(session, inbound("X1", channel="telegram", address="123456"))

    assert telegram.duplicate is False
    assert telegram.message_id != sms.message_id
    assert count(db, Message) == 2


def test_second_message_reuses_the_contact(db: Database) -> None:
    with db.session() as session:
        first = accept(session, inbound("SM1"))
    with db.session() as session:
        second = accept(session, inbound("SM2", text="again"))

    assert second.duplicate is False
    assert second.conversation_id == first.conversation_id
    assert second.message_id != first.message_id
    assert (count(db, Contact), count(db, Conversation), count(db, Message)) == (1, 1, 2)


def test_same_number_on_another_channel_is_another_contact(db: Database) -> None:
    with db.session() as session:
        sms = accept(session, inbound("SM1", channel="sms"))
        whatsapp = accept(session, inbound("WA1", channel="whatsapp"))

    assert whatsapp.conversation_id != sms.conversation_id
    assert count(db, Contact) == 2


def test_phone_number_is_not_stored_in_clear(db: Database) -> None:
    with db.session() as session:
        accept(session, inbound())

    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT address, address_hash, pseudonym FROM contacts")
        ).all()

    assert len(rows) == 1
    assert [column for column in rows[0] if "70123456" in str(column)] == []
    with db.session() as session:
        found = find_contact(session, "sms", PHONE)
        assert found is not None and found.address == PHONE
        assert find_contact(session, "sms", "+96170999999") is None


def test_media_is_kept_with_the_message(db: Database) -> None:
    photo = Media(kind="image", content_type="image/jpeg", url="https://media.example/1")
    with db.session() as session:
        accepted = accept(session, inbound(text=None, media=(photo,)))

    with db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        assert message.body is None
        assert json.loads(message.payload or "{}") == {
            "media": [
                {"kind": "image", "content_type": "image/jpeg", "url": "https://media.example/1"}
            ]
        }


def test_language_hint_is_normalised(db: Database) -> None:
    expected = {
        "ar": "ar",
        "AR": "ar",
        "fr-CA": "fr",
        "es_MX": "es",
        "fil": "tl",
        "in": "id",
        "xx": "en",
        "de": "en",
        None: "en",
        "": "en",
    }

    with db.session() as session:
        conversations = {
            hint: accept(
                session, inbound(f"SM-{hint}", address=f"+1555{n}", language_hint=hint)
            ).conversation_id
            for n, hint in enumerate(expected)
        }

    with db.session() as session:
        found = {
            hint: (
                session.get(Conversation, cid).language,
                session.get(Conversation, cid).contact.language,
            )  # type: ignore[union-attr]
            for hint, cid in conversations.items()
        }
    assert found == {hint: (language, language) for hint, language in expected.items()}


def test_language_hint_of_a_later_message_does_not_switch_language(db: Database) -> None:
    with db.session() as session:
        first = accept(session, inbound("SM1", language_hint="ar"))
        accept(session, inbound("SM2", language_hint="fr"))

    with db.session() as session:
        assert session.get(Conversation, first.conversation_id).language == "ar"  # type: ignore[union-attr]


@pytest.mark.skipif(TEST_DATABASE_URL is None, reason="two writers at once need PostgreSQL")
def test_a_person_first_written_by_two_requests_at_once_is_one_contact(db: Database) -> None:
    # The first request's contact is inserted but not committed when the second looks
    # and misses it; the second's insert waits on the unique index, then fails, and it
    # takes the first one's contact and conversation.
    first_inserted, release_first = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        with db.session() as session:
            results["first"] = accept(session, inbound("SM-a"))
            first_inserted.set()
            release_first.wait(10)

    def second() -> None:
        with db.session() as session:
            results["second"] = accept(session, inbound("SM-b"))

    writer = threading.Thread(target=first)
    writer.start()
    assert first_inserted.wait(10)
    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(0.5)  # the second is now waiting on the first's uncommitted contact
    release_first.set()
    writer.join(10)
    racer.join(10)

    a, b = results["first"], results["second"]
    assert isinstance(a, Accepted) and isinstance(b, Accepted)
    assert a.conversation_id == b.conversation_id
    assert (count(db, Contact), count(db, Conversation), count(db, Message)) == (1, 1, 2)
