from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from bot import auth
from bot.db import Database
from bot.errors import HelplineError
from bot.models import ApiToken, User, utcnow
from tests.helpers import factories

PASSWORD = "a long enough password"


PRODUCTION_HASHER = auth._hasher


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)


@pytest.fixture
def username(db: Database) -> str:
    with db.session() as session:
        auth.create_organisation(session, "Org", ["en"], [])
        auth.create_user(
            session, organisation="Org", username="amina", role="caseworker", password=PASSWORD
        )
    return "amina"


def test_password_is_stored_as_an_argon2_hash(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_hasher", PRODUCTION_HASHER)
    with db.session() as session:
        auth.create_organisation(session, "Org", [], [])
        username = auth.create_user(
            session, organisation="Org", username="amina", role="caseworker", password=PASSWORD
        ).username

    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    with db.session() as session:
        assert auth.authenticate(session, username, PASSWORD).username == username


def test_weaker_hash_is_upgraded_on_login(
    db: Database, username: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    )

    with db.session() as session:
        auth.authenticate(session, username, PASSWORD)

    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")


def test_right_password_authenticates(db: Database, username: str) -> None:
    with db.session() as session:
        user = auth.authenticate(session, username, PASSWORD)

        assert (user.username, user.role, user.organisation.name) == ("amina", "caseworker", "Org")


@pytest.mark.parametrize(
    ("name", "password"),
    [("amina", "wrong password!"), ("nobody", PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
def test_wrong_credentials_fail(db: Database, username: str, name: str, password: str) -> None:
    with db.session() as session, pytest.raises(auth.LoginFailed):
        auth.authenticate(session, name, password)


def fail(db: Database, username: str, times: int) -> None:
    for _ in range(times):
        with db.session() as session, pytest.raises(auth.LoginFailed):
            auth.authenticate(session, username, "wrong password!")
        # The API commits after a failure so that the count survives the request.


def test_lockout_after_five_failures_even_with_the_right_password(
    db: Database, username: str
) -> None:
    fail(db, username, auth.MAX_FAILED_LOGINS)

    with db.session() as session, pytest.raises(auth.LoginFailed):
        auth.authenticate(session, username, PASSWORD)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None and user.locked_until is not None
        assert user.locked_until > utcnow() + auth.LOCKOUT - timedelta(minutes=1)


def test_fewer_failures_do_not_lock_and_success_resets_the_count(
    db: Database, username: str
) -> None:
    fail(db, username, auth.MAX_FAILED_LOGINS - 1)
    with db.session() as session:
        auth.authenticate(session, username, PASSWORD)

    fail(db, username, auth.MAX_FAILED_LOGINS - 1)
    with db.session() as session:
        user = auth.authenticate(session, username, PASSWORD)
        assert (user.failed_logins, user.locked_until) == (0, None)


def test_lock_expires(db: Database, username: str) -> None:
    fail(db, username, auth.MAX_FAILED_LOGINS)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        user.locked_until = utcnow() - timedelta(seconds=1)

    with db.session() as session:
        assert auth.authenticate(session, username, PASSWORD).username == username


def test_inactive_user_cannot_log_in(db: Database, username: str) -> None:
    with db.session() as session:
        session.scalar(select(User).where(User.username == username)).is_active = False  # type: ignore[union-attr]

    with db.session() as session, pytest.raises(auth.LoginFailed):
        auth.authenticate(session, username, PASSWORD)


def test_token_lifecycle(db: Database) -> None:
    with db.session() as session:
        user = factories.user(session, factories.organisation(session))
        token, lifetime = auth.issue_token(session, user)

    assert lifetime == int(auth.TOKEN_LIFETIME.total_seconds())
    with db.session() as session:
        found = auth.user_for_token(session, token)
        assert found is not None and found.id == user.id
        assert auth.user_for_token(session, token + "x") is None
        assert auth.user_for_token(session, "") is None
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert stored != token
    assert len(stored) == 64


def test_expired_token_is_refused(db: Database) -> None:
    with db.session() as session:
        user = factories.user(session, factories.organisation(session))
        token, _ = auth.issue_token(session, user)
    with db.session() as session:
        row = session.scalar(select(ApiToken))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)

    with db.session() as session:
        assert auth.user_for_token(session, token) is None


def test_token_of_a_deactivated_user_is_refused(db: Database) -> None:
    with db.session() as session:
        user = factories.user(session, factories.organisation(session))
        token, _ = auth.issue_token(session, user)
    with db.session() as session:
        session.get(User, user.id).is_active = False  # type: ignore[union-attr]

    with db.session() as session:
        assert auth.user_for_token(session, token) is None


def test_short_password_is_rejected(db: Database) -> None:
    with db.session() as session:
        auth.create_organisation(session, "Org", [], [])
        with pytest.raises(HelplineError, match="at least 10 characters"):
            auth.create_user(
                session, organisation="Org", username="u", role="caseworker", password="123456789"
            )
        assert (
            auth.create_user(
                session, organisation="Org", username="u", role="caseworker", password="1234567890"
            ).username
            == "u"
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"role": "boss"}, "role must be one of"),
        ({"organisation": "Nope"}, "no organisation"),
        ({"username": "taken"}, "already exists"),
    ],
    ids=["bad-role", "unknown-organisation", "duplicate-username"],
)
def test_bad_user_is_rejected(db: Database, changes: dict[str, str], message: str) -> None:
    with db.session() as session:
        auth.create_organisation(session, "Org", [], [])
        auth.create_user(
            session, organisation="Org", username="taken", role="caseworker", password=PASSWORD
        )
        values = {"organisation": "Org", "username": "new", "role": "caseworker"} | changes
        with pytest.raises(HelplineError, match=message):
            auth.create_user(session, password=PASSWORD, **values)


def test_duplicate_organisation_is_rejected(db: Database) -> None:
    with db.session() as session:
        auth.create_organisation(session, "Org", [], [])
        with pytest.raises(HelplineError, match="already exists"):
            auth.create_organisation(session, "Org", [], [])
