from __future__ import annotations

import base64
import secrets

import pytest
from sqlalchemy import text

from bot import cases, crypto
from bot.config import Secret
from bot.db import Database
from bot.errors import HelplineError
from bot.inbox import accept
from channels.base import Inbound
from tests.helpers import factories


def key() -> Secret:
    return Secret(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"))


HASH_KEY = Secret("hash-key-for-tests")


@pytest.mark.parametrize(
    "message",
    [
        "",
        "My employer took my passport.",
        "صاحب العمل أخذ جواز سفري",
        "मलाई तलब दिइएन",
        "ፓስፖርቴን ወሰዱ 🙏",
    ],
    ids=["empty", "english", "arabic", "nepali", "amharic-emoji"],
)
def test_round_trip(message: str) -> None:
    cipher = crypto.Cipher((key(),), HASH_KEY)

    token = cipher.encrypt(message)

    assert cipher.decrypt(token) == message
    assert message == "" or message not in token


def test_encryption_is_randomised() -> None:
    cipher = crypto.Cipher((key(),), HASH_KEY)

    assert cipher.encrypt("same text") != cipher.encrypt("same text")


def test_rotation_with_two_keys() -> None:
    old, new = key(), key()
    before = crypto.Cipher((old,), HASH_KEY)
    during = crypto.Cipher((new, old), HASH_KEY)
    after = crypto.Cipher((new,), HASH_KEY)
    stored = before.encrypt("written under the old key")

    assert during.decrypt(stored) == "written under the old key"
    with pytest.raises(HelplineError):
        after.decrypt(stored)
    rotated = during.rotate(stored)
    assert after.decrypt(rotated) == "written under the old key"
    # The first key encrypts: what is written during rotation no longer needs the old key.
    assert after.decrypt(during.encrypt("new text")) == "new text"


def test_wrong_key_is_a_helpline_error() -> None:
    stored = crypto.Cipher((key(),), HASH_KEY).encrypt("text")

    with pytest.raises(HelplineError, match="cannot be decrypted"):
        crypto.Cipher((key(),), HASH_KEY).decrypt(stored)


def test_no_data_key_is_refused() -> None:
    with pytest.raises(HelplineError):
        crypto.Cipher((), HASH_KEY)


def test_keyed_hash_is_stable_and_purpose_separated() -> None:
    one = crypto.Cipher((key(),), HASH_KEY)
    same_hash_key = crypto.Cipher((key(),), HASH_KEY)
    other_hash_key = crypto.Cipher((key(),), Secret("another-hash-key"))
    value = "+96170123456"

    digest = one.keyed_hash("address:sms", value)

    assert same_hash_key.keyed_hash("address:sms", value) == digest
    assert one.keyed_hash("address:whatsapp", value) != digest
    assert one.keyed_hash("address:sms", "+96170123457") != digest
    assert other_hash_key.keyed_hash("address:sms", value) != digest
    assert len(digest) == 64
    assert value not in digest
    # The separator keeps ("a", "b:c") and ("a:b", "c") apart.
    assert one.keyed_hash("a", "b:c") != one.keyed_hash("a:b", "c")


def test_unconfigured_cipher_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_cipher", None)

    with pytest.raises(HelplineError, match="not configured"):
        crypto.cipher()


def raw(db: Database, sql: str) -> list[str]:
    with db.engine.connect() as connection:
        return [str(value) for value in connection.execute(text(sql)).scalars()]


def test_message_bodies_are_not_stored_in_clear(db: Database) -> None:
    body = "They took my passport and I have not been paid"
    with db.session() as session:
        accept(session, Inbound(channel="web", address="simulator:x", provider_id="m1", text=body))

    stored = raw(db, "SELECT body FROM messages")

    assert len(stored) == 1
    assert "passport" not in stored[0]
    assert crypto.cipher().decrypt(stored[0]) == body


def test_notes_are_not_stored_in_clear(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        case = factories.case(session)
        cases.add_note(session, worker, case.id, "She said the agency is in Beirut")

    stored = [value for value in raw(db, "SELECT text FROM case_events") if value != "None"]

    assert len(stored) == 1
    assert "Beirut" not in stored[0]
