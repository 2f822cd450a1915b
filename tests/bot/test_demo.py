from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import auth, cases, demo
from bot.db import Database
from bot.errors import HelplineError
from bot.models import Organisation, User
from tests.helpers import factories


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)


def test_seed_makes_demo_organisations_and_an_account_for_every_role(db: Database) -> None:
    with db.session() as session:
        lines = demo.seed(session, "development")

    with db.session() as session:
        organisations = session.scalars(select(Organisation).order_by(Organisation.id)).all()
        users = session.scalars(select(User).order_by(User.id)).all()
        assert [(o.name, o.is_demo) for o in organisations] == [
            (d.name, True) for d in demo.ORGANISATIONS
        ]
        assert {u.role for u in users} == set(cases.ROLES)
        assert [u.username for u in users] == [d.username for d in demo.USERS]
        for user in users:
            assert auth.authenticate(session, user.username, demo.DEMO_PASSWORD) == user
    assert f"Demo accounts (password for all: {demo.DEMO_PASSWORD}):" in lines


def test_seeding_again_adds_nothing(db: Database) -> None:
    with db.session() as session:
        demo.seed(session, "development")
    with db.session() as session:
        lines = demo.seed(session, "development")
        counts = (
            len(session.scalars(select(Organisation)).all()),
            len(session.scalars(select(User)).all()),
        )

    assert counts == (len(demo.ORGANISATIONS), len(demo.USERS))
    assert [line for line in lines if line.startswith("created:")] == []


def test_the_simulators_cases_reach_the_demo_caseworker(db: Database) -> None:
    with db.session() as session:
        demo.seed(session, "development")
        for language in ("en", "ar", "fr"):
            case = factories.case(session, language=language)
            assert case.organisation.name == demo.DESK, language


def test_a_real_organisation_with_a_demo_name_is_left_alone(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session, demo.DESK)
        with pytest.raises(HelplineError, match="is not a demo organisation"):
            demo.seed(session, "development")


def test_no_demo_accounts_in_production(db: Database) -> None:
    with db.session() as session, pytest.raises(HelplineError, match="production"):
        demo.seed(session, "production")
    with db.session() as session:
        assert session.scalars(select(User)).all() == []
