from __future__ import annotations

import base64
import io
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from bot import cases, cli, crypto
from bot.config import Secret
from bot.db import Database
from bot.inbox import find_contact
from bot.keys import encrypted_columns, rotate
from bot.models import CaseEvent, Contact, Message
from tests.helpers import factories


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def raw(db: Database, sql: str) -> list[str]:
    with db.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(sql)) if row[0] is not None]


def seed(db: Database) -> None:
    """A person's message, their address, a case with a note and red-flag evidence."""
    with db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)
        conversation = factories.conversation(session, channel="sms", address="+9613000111")
        for n in range(7):
            factories.inbound(session, conversation, f"message {n}: they took my passport")
        case = factories.case(session, conversation)
        cases.add_note(session, caseworker, case.id, "Lives in Jounieh")
        cases.flag(session, case, "high", [{"code": "isolation", "evidence": "no phone"}])


def use_keys(*keys: str, secret: str = "secret-one") -> crypto.Cipher:  # noqa: S107
    cipher = crypto.Cipher(tuple(Secret(k) for k in keys), Secret(secret))
    crypto.configure(cipher)
    return cipher


def test_the_encrypted_columns_are_found_from_the_models() -> None:
    found = sorted(f"{table.name}.{column.name}" for table, column in encrypted_columns())
    assert found == [
        "case_events.text",
        "contacts.address",
        "messages.body",
        "messages.payload",
        "referrals.response_note",
        "referrals.summary",
    ]


def test_rotation_moves_every_value_to_the_new_key_and_the_old_key_can_go(
    database_url: str,
) -> None:
    old, new = new_key(), new_key()
    use_keys(old)
    db = Database(database_url)
    seed(db)

    use_keys(new, old)
    result = rotate(db, batch_size=3)

    assert result.rotated == {
        "case_events.text": 2,
        "contacts.address": 1,
        "messages.body": 7,
        "messages.payload": 0,
        "referrals.response_note": 0,
        "referrals.summary": 0,
    }
    assert sum(result.current.values()) == 0
    newest = Fernet(new.encode())
    for token in raw(db, "SELECT body FROM messages") + raw(db, "SELECT address FROM contacts"):
        newest.decrypt(token.encode())
    # The old key is retired: everything still reads.
    use_keys(new)
    with db.session() as session:
        bodies = session.scalars(select(Message.body).order_by(Message.id)).all()
        assert bodies[0] == "message 0: they took my passport"
        assert session.scalars(select(Contact.address)).one() == "+9613000111"
        assert "Lives in Jounieh" in session.scalars(select(CaseEvent.text)).all()
    db.dispose()


def test_a_second_run_changes_nothing(database_url: str) -> None:
    old, new = new_key(), new_key()
    use_keys(old)
    db = Database(database_url)
    seed(db)
    use_keys(new, old)
    rotate(db)
    before = raw(db, "SELECT body FROM messages ORDER BY id")

    again = rotate(db, batch_size=2)

    assert sum(again.rotated.values()) == 0
    assert again.current["messages.body"] == 7
    assert raw(db, "SELECT body FROM messages ORDER BY id") == before
    db.dispose()


def test_an_interrupted_run_is_resumed_by_running_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_key(), new_key()
    use_keys(old)
    db = Database(database_url)
    seed(db)
    cipher = use_keys(new, old)
    calls = 0
    original = cipher.rotate

    def failing(token: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt
        return original(token)

    monkeypatch.setattr(cipher, "rotate", failing)
    with pytest.raises(KeyboardInterrupt):
        rotate(db, batch_size=1)
    monkeypatch.setattr(cipher, "rotate", original)

    resumed = rotate(db, batch_size=2)

    # One row per batch: the four rotated before the interruption were committed.
    assert (sum(resumed.current.values()), sum(resumed.rotated.values())) == (4, 10 - 4)
    use_keys(new)
    with db.session() as session:
        assert len(session.scalars(select(Message.body)).all()) == 7
    db.dispose()


def test_a_new_secret_key_rehashes_addresses_so_people_are_found_again(
    database_url: str,
) -> None:
    key = new_key()
    use_keys(key, secret="secret-one")
    db = Database(database_url)
    seed(db)
    use_keys(key, secret="secret-two")
    with db.session() as session:
        assert find_contact(session, "sms", "+9613000111") is None

    result = rotate(db)

    assert result.rehashed == 1
    with db.session() as session:
        assert find_contact(session, "sms", "+9613000111") is not None
    assert rotate(db).rehashed == 0
    db.dispose()


def test_a_value_no_configured_key_reads_stops_the_run_with_a_clear_error(
    database_url: str,
) -> None:
    use_keys(new_key())
    db = Database(database_url)
    seed(db)
    use_keys(new_key())

    with pytest.raises(Exception, match="cannot be decrypted with the configured keys"):
        rotate(db)
    db.dispose()


def test_the_command_reports_counts(
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = new_key(), new_key()
    monkeypatch.chdir(tmp_path)
    for key, value in (environ | {"HELPLINE_DATA_KEY": old}).items():
        monkeypatch.setenv(key, value)
    assert cli.main(["db", "upgrade"]) == 0
    use_keys(old, secret=(tmp_path / "var" / "secrets" / "helpline_secret_key").read_text().strip())
    db = Database(environ["DATABASE_URL"])
    seed(db)
    db.dispose()
    capsys.readouterr()
    monkeypatch.setenv("HELPLINE_DATA_KEY", f"{new},{old}")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    assert cli.main(["keys", "rotate", "--batch-size", "4"]) == 0

    out = capsys.readouterr().out
    assert "messages.body: 7 re-encrypted, 0 already current" in out
    assert "contacts.address: 1 re-encrypted, 0 already current" in out
    assert "contacts.address_hash: 0 recomputed" in out
