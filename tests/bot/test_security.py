"""Attacks that fail, through the HTTP API (webhook attacks: tests/channels).

docs/security.md lists every attack, what stops it, and the test that proves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot import auth, cases
from bot.app_state import AppState
from bot.config import Settings
from bot.models import Case, CaseEvent, Message, User
from tests.bot.test_api import ROUTES
from tests.helpers import factories
from tests.helpers.app import make_app

SQL_INJECTIONS = [
    "'; DROP TABLE messages; --",
    "1 OR 1=1",
    "' OR '1'='1",
    '" OR ""="',
    "1; UPDATE cases SET organisation_id = 2",
]
# Refused status filter, non-numeric id, failed login, a note stored as text.
EXPECTED_ANSWERS = [422, 422, 401, 201]
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# Routes naming a case beyond those tests/bot/test_api.py checks, with what they need.
MORE_CASE_ROUTES = {
    "media": ("get", "/messages/1/media/0", None),
    "referrals": ("post", "/referrals", {"needs": ["legal"], "consent_method": "verbal"}),
}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    return make_app(settings, monkeypatch)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def state(app: FastAPI) -> AppState:
    helpline: AppState = app.state.helpline
    return helpline


def login(client: TestClient, username: str, password: str = factories.PASSWORD) -> int:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    ).status_code


def token_of(state: AppState, username: str, org: str, **org_options: list[str]) -> str:
    with state.db.session() as session:
        organisation = factories.organisation(session, org, **org_options)
        return factories.token(
            session, factories.user(session, organisation, username, role=cases.SUPERVISOR)
        )


def test_every_route_that_names_a_case_is_checked_for_other_organisations(app: FastAPI) -> None:
    names = {
        re.sub(r"^/api/v1/cases/\{case_id\}", "", route.path)  # type: ignore[attr-defined]
        for route in app.routes
        if getattr(route, "path", "").startswith("/api/v1/cases/{case_id}")
    }
    checked = {
        re.sub(r"/\d+", lambda m: "/{x}", suffix)
        for _method, suffix, _body in [*ROUTES.values(), *MORE_CASE_ROUTES.values()]
    }
    normalised = {re.sub(r"\{[a-z_]+\}", "{x}", name) for name in names}

    assert normalised - checked == set()


def test_another_organisations_case_is_not_found_through_the_other_routes(
    client: TestClient, state: AppState
) -> None:
    mine = token_of(state, "alice", "Mine", languages=["en"])
    token_of(state, "carol", "Theirs", languages=["ar"])
    with state.db.session() as session:
        conversation = factories.conversation(session, language="ar")
        factories.inbound(session, conversation, "their person's words", status="done")
        case_id = factories.case(session, conversation, language="ar").id
        events = session.scalar(select(func.count()).select_from(CaseEvent))

    answers = {
        name: client.request(
            method,
            f"/api/v1/cases/{case_id}{suffix}",
            json=body,
            headers={"Authorization": f"Bearer {mine}"},
        )
        for name, (method, suffix, body) in MORE_CASE_ROUTES.items()
    }

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(
        MORE_CASE_ROUTES, 404
    )
    assert all("their person" not in a.text for a in answers.values())
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == events


@pytest.mark.parametrize("attack", SQL_INJECTIONS, ids=range(len(SQL_INJECTIONS)))
def test_sql_injection_in_api_parameters_changes_nothing(
    client: TestClient, state: AppState, attack: str
) -> None:
    token = token_of(state, "alice", "Mine")
    headers = {"Authorization": f"Bearer {token}"}
    with state.db.session() as session:
        factories.case(session)

    answers = [
        client.get("/api/v1/cases", params={"status": attack}, headers=headers).status_code,
        client.get(f"/api/v1/cases/{attack}", headers=headers).status_code,
        login(client, attack, attack),
        client.post("/api/v1/cases/1/notes", json={"text": attack}, headers=headers).status_code,
    ]

    assert answers == EXPECTED_ANSWERS
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        notes = session.scalars(select(CaseEvent.text).where(CaseEvent.kind == "note")).all()
        assert notes == [attack]


@pytest.mark.parametrize("attack", [*SQL_INJECTIONS, SCRIPT], ids=range(len(SQL_INJECTIONS) + 1))
def test_injection_in_a_message_is_stored_and_shown_as_plain_data(
    client: TestClient, state: AppState, attack: str
) -> None:
    token = token_of(state, "alice", "Mine")
    with state.db.session() as session:
        conversation = factories.conversation(session)
        factories.inbound(session, conversation, attack, status="done")
        case_id = factories.case(session, conversation).id

    response = client.get(f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})

    assert response.headers["content-type"] == "application/json"
    assert [m["text"] for m in response.json()["transcript"]] == [attack]
    with state.db.session() as session:
        assert session.scalars(select(Message.body)).all() == [attack]


def test_login_brute_force_locks_the_account_over_http(client: TestClient, state: AppState) -> None:
    token_of(state, "alice", "Mine")
    token_of(state, "bob", "Other")

    tries = [login(client, "alice", f"guess-{n}") for n in range(auth.MAX_FAILED_LOGINS)]

    assert tries == [401] * auth.MAX_FAILED_LOGINS
    # Locked: even the right password fails, and the answer does not say why.
    refused = client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": factories.PASSWORD}
    )
    assert refused.status_code == 401
    assert "lock" not in refused.text.lower()
    assert login(client, "bob") == 200
    with state.db.session() as session:
        alice = session.scalars(select(User).where(User.username == "alice")).one()
        assert alice.locked_until is not None
