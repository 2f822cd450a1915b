from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot import auth, cases
from bot import closing as closing_module
from bot.app_state import AppState
from bot.config import Settings
from bot.models import (
    ApiToken,
    AuditEntry,
    Case,
    CaseEvent,
    Conversation,
    Message,
    Organisation,
    User,
    utcnow,
)
from tests.helpers import factories
from tests.helpers.app import make_app


@dataclass
class World:
    """Two organisations: alice and bob work at Mine (English), carol at Theirs (Arabic)."""

    alice: str
    bob: str
    carol: str
    alice_id: int


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    return make_app(settings, monkeypatch)


@pytest.fixture
def state(app: FastAPI) -> AppState:
    helpline: AppState = app.state.helpline
    return helpline


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def world(state: AppState) -> World:
    with state.db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        alice = factories.user(session, mine, "alice")
        bob = factories.user(session, mine, "bob")
        carol = factories.user(session, theirs, "carol")
        return World(
            factories.token(session, alice),
            factories.token(session, bob),
            factories.token(session, carol),
            alice.id,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_case(
    state: AppState, *, language: str = "en", priority: str = "request", texts: tuple[str, ...] = ()
) -> int:
    with state.db.session() as session:
        conversation = factories.conversation(session, language=language)
        for text in texts:
            factories.inbound(session, conversation, text, status="done")
        return factories.case(session, conversation, priority=priority).id


def claimed_case(state: AppState, client: TestClient, token: str) -> int:
    case_id = new_case(state)
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(token)).status_code == 200
    return case_id


def test_token_is_issued_for_the_right_password(client: TestClient, state: AppState) -> None:
    with state.db.session() as session:
        factories.user(session, factories.organisation(session), "amina")

    response = client.post(
        "/api/v1/auth/token", json={"username": "amina", "password": factories.PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == (
        "bearer",
        int(auth.TOKEN_LIFETIME.total_seconds()),
    )
    assert client.get("/api/v1/cases", headers=bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("amina", "wrong password"), ("nobody", factories.PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
def test_bad_credentials_get_401(
    client: TestClient, state: AppState, username: str, password: str
) -> None:
    with state.db.session() as session:
        factories.user(session, factories.organisation(session), "amina")

    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "invalid username or password"},
    )


def test_failed_logins_are_counted_across_requests(client: TestClient, state: AppState) -> None:
    with state.db.session() as session:
        factories.user(session, factories.organisation(session), "amina")
    for _ in range(auth.MAX_FAILED_LOGINS):
        client.post("/api/v1/auth/token", json={"username": "amina", "password": "wrong password"})

    response = client.post(
        "/api/v1/auth/token", json={"username": "amina", "password": factories.PASSWORD}
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="}],
    ids=["no-token", "unknown-token", "basic-auth"],
)
def test_requests_without_a_valid_token_get_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/cases", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_expired_token_gets_401(client: TestClient, state: AppState, world: World) -> None:
    with state.db.session() as session:
        for row in session.scalars(select(ApiToken)):
            row.expires_at = utcnow() - timedelta(seconds=1)

    assert client.get("/api/v1/cases", headers=bearer(world.alice)).status_code == 401


def test_list_shows_only_own_cases_most_urgent_first(
    client: TestClient, state: AppState, world: World
) -> None:
    request = new_case(state, priority="request")
    emergency = new_case(state, priority="emergency")
    medium = new_case(state, priority="medium")
    new_case(state, language="ar", priority="emergency")

    response = client.get("/api/v1/cases", headers=bearer(world.alice))

    assert response.status_code == 200
    assert [(c["id"], c["priority"]) for c in response.json()] == [
        (emergency, "emergency"),
        (medium, "medium"),
        (request, "request"),
    ]
    assert [c["id"] for c in client.get("/api/v1/cases", headers=bearer(world.carol)).json()] != [
        emergency,
        medium,
        request,
    ]


def test_list_filters_by_status(client: TestClient, state: AppState, world: World) -> None:
    waiting = new_case(state)
    claimed = claimed_case(state, client, world.alice)

    queued = client.get("/api/v1/cases", params={"status": "queued"}, headers=bearer(world.alice))
    taken = client.get("/api/v1/cases", params={"status": "claimed"}, headers=bearer(world.alice))
    bad = client.get("/api/v1/cases", params={"status": "lost"}, headers=bearer(world.alice))

    assert [c["id"] for c in queued.json()] == [waiting]
    assert [(c["id"], c["assigned_to"]) for c in taken.json()] == [(claimed, "alice")]
    assert bad.status_code == 422


def test_get_case_with_transcript_and_events(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = new_case(state, texts=("I want to talk to a person", "my employer keeps my passport"))

    response = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.alice))

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["language"], body["channel"], body["consent"]) == (
        case_id,
        "queued",
        "en",
        "web",
        "requested_by_person",
    )
    assert [(m["direction"], m["author"], m["text"]) for m in body["transcript"]] == [
        ("in", "person", "I want to talk to a person"),
        ("in", "person", "my employer keeps my passport"),
    ]
    assert [e["kind"] for e in body["events"]] == ["opened"]


def test_claim_then_conflict_for_a_colleague(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = new_case(state)

    won = client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(world.alice))
    lost = client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(world.bob))

    assert won.status_code == 200
    assert (won.json()["status"], won.json()["assigned_to"]) == ("claimed", "alice")
    assert lost.status_code == 409


def test_reply_is_queued_then_delivered_on_the_web_channel(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = claimed_case(state, client, world.alice)

    response = client.post(
        f"/api/v1/cases/{case_id}/messages",
        json={"text": "Hello, I am Sara."},
        headers=bearer(world.alice),
    )

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    with state.db.session() as session:
        message = session.get(Message, response.json()["id"])
        assert message is not None
        assert (
            message.direction,
            message.author,
            message.body,
            message.case_id,
            message.user_id,
            message.status,
        ) == ("out", "caseworker", "Hello, I am Sara.", case_id, world.alice_id, "delivered")
    events = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.alice)).json()["events"]
    assert [(e["kind"], e["user"], e["data"].get("direction")) for e in events][-1] == (
        "message",
        "alice",
        "out",
    )


def test_colleague_cannot_reply_to_a_claimed_case(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = claimed_case(state, client, world.alice)

    response = client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "me too"}, headers=bearer(world.bob)
    )

    assert response.status_code == 409


def test_notes(client: TestClient, state: AppState, world: World) -> None:
    case_id = new_case(state)

    response = client.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"text": "Called the embassy."},
        headers=bearer(world.alice),
    )

    assert response.status_code == 201
    events = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.bob)).json()["events"]
    assert [(e["id"], e["kind"], e["user"], e["text"]) for e in events if e["kind"] == "note"] == [
        (response.json()["id"], "note", "alice", "Called the embassy.")
    ]


def test_close_with_outcome_queues_the_closing_message(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = claimed_case(state, client, world.alice)

    response = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "referred_to_service"},
        headers=bearer(world.alice),
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["outcome"]) == (
        "closed",
        "referred_to_service",
    )
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.conversation.mode == "bot"
        closing = session.scalars(
            select(Message).where(Message.case_id == case_id, Message.direction == "out")
        )
        expected = state.nlg.render("utter_case_closed", language="en", channel="web").text
        assert [(m.author, m.body, m.status) for m in closing] == [
            ("bot", expected, "delivered"),
            ("bot", closing_module.rating_question("en"), "delivered"),
        ]
        assert case.rating_requested_at is not None


ROUTES = {
    "get": ("get", "", None),
    "claim": ("post", "/claim", None),
    "messages": ("post", "/messages", {"text": "hello"}),
    "notes": ("post", "/notes", {"text": "a note"}),
    "close": ("post", "/close", {"outcome": "information_given"}),
    "release": ("post", "/release", None),
    "transfer": ("post", "/transfer", {"user_id": 1}),
    "consent": ("post", "/consent", None),
    "audit": ("get", "/audit", None),
    "template": ("post", "/template", None),
}


def test_another_organisations_case_is_404_on_every_route(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = new_case(state, language="ar")
    assert (
        client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(world.carol)).status_code
        == 200
    )

    theirs = {
        name: client.request(
            method, f"/api/v1/cases/{case_id}{suffix}", json=body, headers=bearer(world.alice)
        ).status_code
        for name, (method, suffix, body) in ROUTES.items()
    }
    unknown = {
        name: client.request(
            method, f"/api/v1/cases/999999{suffix}", json=body, headers=bearer(world.alice)
        ).status_code
        for name, (method, suffix, body) in ROUTES.items()
    }

    assert theirs == dict.fromkeys(ROUTES, 404)
    assert unknown == dict.fromkeys(ROUTES, 404)
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == ("claimed", None)
        assert case.assigned_user.username == "carol"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 2
        assert session.scalar(select(func.count()).select_from(Message)) == 0


BAD_BODIES = {
    "empty-reply": ("/messages", {"text": ""}),
    "long-reply": ("/messages", {"text": "x" * 4097}),
    "no-reply-text": ("/messages", {}),
    "empty-note": ("/notes", {"text": ""}),
    "unknown-outcome": ("/close", {"outcome": "solved"}),
    "no-outcome": ("/close", {}),
}


def test_bad_bodies_get_422(client: TestClient, state: AppState, world: World) -> None:
    case_id = claimed_case(state, client, world.alice)

    statuses = {
        name: client.post(
            f"/api/v1/cases/{case_id}{suffix}", json=body, headers=bearer(world.alice)
        ).status_code
        for name, (suffix, body) in BAD_BODIES.items()
    }

    assert statuses == dict.fromkeys(BAD_BODIES, 422)
    with state.db.session() as session:
        assert session.get(Case, case_id).status == "claimed"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 2


def test_openapi_lists_the_contract_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    expected = {
        "/api/v1/auth/token": {"post"},
        "/api/v1/cases": {"get"},
        "/api/v1/cases/{case_id}": {"get"},
        "/api/v1/cases/{case_id}/claim": {"post"},
        "/api/v1/cases/{case_id}/messages": {"post"},
        "/api/v1/cases/{case_id}/notes": {"post"},
        "/api/v1/cases/{case_id}/close": {"post"},
        "/api/v1/cases/next": {"post"},
        "/api/v1/cases/{case_id}/release": {"post"},
        "/api/v1/cases/{case_id}/transfer": {"post"},
        "/api/v1/cases/{case_id}/consent": {"post"},
        "/api/v1/cases/{case_id}/audit": {"get"},
        "/api/v1/alerts": {"get"},
        "/api/v1/alerts/{alert_id}/acknowledge": {"post"},
        "/api/v1/figures": {"get"},
        "/api/v1/colleagues": {"get"},
        "/api/v1/organisations": {"get"},
    }
    assert {path: set(paths.get(path, {})) for path in expected} == expected


def test_openapi_documents_answers_and_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def answers(path: str, method: str = "post") -> set[str]:
        return set(paths[path][method]["responses"])

    assert answers("/api/v1/cases/{case_id}/claim") == {"200", "401", "403", "404", "409", "422"}
    assert answers("/api/v1/cases/next") == {"200", "204", "401", "403"}
    assert answers("/api/v1/cases/{case_id}/transfer") == {
        "200",
        "401",
        "403",
        "404",
        "409",
        "422",
    }
    assert answers("/api/v1/alerts", "get") == {"200", "401", "403", "422"}
    summary = paths["/api/v1/cases/{case_id}/release"]["post"]["responses"]["200"]
    assert summary["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CaseSummary"
    }


async def post_and_look_when_answered(
    app: FastAPI,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    look: Callable[[], object],
) -> tuple[int, object]:
    """POST through ASGI and call ``look`` at the moment the response starts going out."""
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent = False
    seen: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            seen["looked"] = await asyncio.to_thread(look)

    await asyncio.wait_for(app(scope, receive, send), 30)
    return seen["status"], seen["looked"]


async def test_writes_are_committed_before_the_answer_goes_out(
    app: FastAPI, state: AppState
) -> None:
    """A client acting on an answer (its new token, its claimed case) must find it done."""
    with state.db.session() as session:
        user = factories.user(session, factories.organisation(session), "amina")
        token = factories.token(session, user)
    case_id = new_case(state)

    def count(model: type) -> int:
        with state.db.session() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def case_status() -> str:
        with state.db.session() as session:
            return session.get(Case, case_id).status  # type: ignore[union-attr]

    def notes() -> int:
        with state.db.session() as session:
            return (
                session.scalar(
                    select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "note")
                )
                or 0
            )

    login = await post_and_look_when_answered(
        app,
        "/api/v1/auth/token",
        {"username": "amina", "password": factories.PASSWORD},
        {},
        lambda: count(ApiToken),
    )
    claim = await post_and_look_when_answered(
        app, f"/api/v1/cases/{case_id}/claim", {}, bearer(token), case_status
    )
    note = await post_and_look_when_answered(
        app, f"/api/v1/cases/{case_id}/notes", {"text": "n"}, bearer(token), notes
    )

    assert (login, claim, note) == ((200, 2), (200, cases.CLAIMED), (201, 1))
    await state.close()


def test_conversation_of_a_closed_case_is_back_with_the_bot(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = claimed_case(state, client, world.alice)
    client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "no_response"},
        headers=bearer(world.alice),
    )

    with state.db.session() as session:
        modes = list(session.scalars(select(Conversation.mode)))
    assert modes == ["bot"]


def user_token(state: AppState, org_name: str, role: str) -> tuple[int, str]:
    with state.db.session() as session:
        org = session.scalar(select(Organisation).where(Organisation.name == org_name))
        assert org is not None
        user = factories.user(session, org, role=role)
        return user.id, factories.token(session, user)


def test_twenty_simultaneous_claims_one_wins(
    client: TestClient, state: AppState, world: World
) -> None:
    contenders = 20
    tokens = [user_token(state, "Mine", cases.CASEWORKER)[1] for _ in range(contenders)]
    case_id = new_case(state)
    barrier = threading.Barrier(contenders)
    statuses: list[int] = []

    def contend(token: str) -> None:
        barrier.wait()
        statuses.append(
            client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(token)).status_code
        )

    threads = [threading.Thread(target=contend, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [409] * (contenders - 1)
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert [e.kind for e in case.events] == ["opened", "assigned"]
        claims = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "claimed")
        assert session.scalar(claims) == 1


def test_next_hands_the_most_urgent_case_then_204(
    client: TestClient, state: AppState, world: World
) -> None:
    request = new_case(state, priority="request")
    emergency = new_case(state, priority="emergency")
    new_case(state, language="ar", priority="emergency")

    first = client.post("/api/v1/cases/next", headers=bearer(world.alice))
    second = client.post("/api/v1/cases/next", headers=bearer(world.bob))
    none_left = client.post("/api/v1/cases/next", headers=bearer(world.alice))

    assert (first.status_code, first.json()["id"], first.json()["assigned_to"]) == (
        200,
        emergency,
        "alice",
    )
    assert (second.status_code, second.json()["id"], second.json()["assigned_to"]) == (
        200,
        request,
        "bob",
    )
    assert (none_left.status_code, none_left.content) == (204, b"")


def test_release_and_transfer(client: TestClient, state: AppState, world: World) -> None:
    case_id = claimed_case(state, client, world.alice)
    with state.db.session() as session:
        bob_id = session.scalar(select(User.id).where(User.username == "bob"))

    released = client.post(f"/api/v1/cases/{case_id}/release", headers=bearer(world.alice))
    claimed = client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer(world.alice))
    moved = client.post(
        f"/api/v1/cases/{case_id}/transfer", json={"user_id": bob_id}, headers=bearer(world.alice)
    )
    not_hers = client.post(f"/api/v1/cases/{case_id}/release", headers=bearer(world.alice))

    assert (released.status_code, released.json()["status"]) == (200, "queued")
    assert claimed.status_code == 200
    assert (moved.status_code, moved.json()["assigned_to"]) == (200, "bob")
    assert not_hers.status_code == 409


def test_transfer_to_another_organisation_with_consent(
    client: TestClient, state: AppState, world: World
) -> None:
    case_id = claimed_case(state, client, world.alice)
    with state.db.session() as session:
        theirs = session.scalar(select(Organisation.id).where(Organisation.name == "Theirs"))
    path = f"/api/v1/cases/{case_id}/transfer"

    refused = client.post(path, json={"organisation_id": theirs}, headers=bearer(world.alice))
    consent = client.post(f"/api/v1/cases/{case_id}/consent", headers=bearer(world.alice))
    moved = client.post(path, json={"organisation_id": theirs}, headers=bearer(world.alice))

    assert refused.status_code == 409
    assert "consented" in refused.json()["detail"]
    assert consent.status_code == 200
    assert (moved.status_code, moved.json()["status"]) == (200, "queued")
    assert client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.alice)).status_code == 404
    assert client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.carol)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"user_id": 1, "organisation_id": 1}, {"user_id": "bob"}, {"user_id": 999999}],
    ids=["neither", "both", "not-an-id", "unknown-user"],
)
def test_bad_transfers_get_422(
    client: TestClient, state: AppState, world: World, body: dict[str, Any]
) -> None:
    case_id = claimed_case(state, client, world.alice)

    response = client.post(
        f"/api/v1/cases/{case_id}/transfer", json=body, headers=bearer(world.alice)
    )

    assert response.status_code == 422
    with state.db.session() as session:
        assert session.get(Case, case_id).assigned_user.username == "alice"  # type: ignore[union-attr]


def test_alerts_for_supervisors(client: TestClient, state: AppState, world: World) -> None:
    _supervisor_id, supervisor = user_token(state, "Mine", cases.SUPERVISOR)
    _other_id, their_supervisor = user_token(state, "Theirs", cases.SUPERVISOR)
    case_id = new_case(state, priority="emergency")
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.deadline_at = utcnow() - timedelta(minutes=1)
        session.flush()
        cases.sweep_deadlines(session)

    listed = client.get("/api/v1/alerts", headers=bearer(supervisor))
    theirs = client.get("/api/v1/alerts", headers=bearer(their_supervisor))
    forbidden = client.get("/api/v1/alerts", headers=bearer(world.alice))
    alert_id = listed.json()[0]["id"]
    stranger = client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers=bearer(their_supervisor)
    )
    acknowledged = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=bearer(supervisor))
    after = client.get("/api/v1/alerts", headers=bearer(supervisor))
    everything = client.get(
        "/api/v1/alerts", params={"include_acknowledged": True}, headers=bearer(supervisor)
    )
    detail = client.get(f"/api/v1/cases/{case_id}", headers=bearer(supervisor)).json()

    assert [(a["kind"], a["case_id"], a["data"]["priority"]) for a in listed.json()] == [
        ("deadline_missed", case_id, "emergency")
    ]
    assert (theirs.json(), forbidden.status_code, stranger.status_code) == ([], 403, 404)
    assert acknowledged.status_code == 200
    assert acknowledged.json()["acknowledged_at"] is not None
    assert (after.json(), [a["id"] for a in everything.json()]) == ([], [alert_id])
    assert (detail["deadline_missed"], detail["events"][-1]["kind"]) == (True, "deadline_missed")


def test_views_and_actions_are_in_the_audit_trail(
    client: TestClient, state: AppState, world: World
) -> None:
    _supervisor_id, supervisor = user_token(state, "Mine", cases.SUPERVISOR)
    case_id = claimed_case(state, client, world.alice)
    client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.bob))
    client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "x"}, headers=bearer(world.bob))

    trail = client.get(f"/api/v1/cases/{case_id}/audit", headers=bearer(supervisor))
    forbidden = client.get(f"/api/v1/cases/{case_id}/audit", headers=bearer(world.alice))

    assert trail.status_code == 200
    assert [(e["user"], e["action"]) for e in trail.json()] == [
        ("alice", "claimed"),
        ("bob", "viewed"),
        ("bob", "noted"),
    ]
    assert forbidden.status_code == 403


# A case claimed by bob, acted on by a user of each role of the same organisation.
SAME_ORGANISATION = {
    # route: (caseworker, supervisor, admin, editor)
    "get": (200, 200, 200, 403),
    "claim": (409, 409, 409, 403),
    "messages": (409, 202, 202, 403),
    "notes": (201, 201, 201, 403),
    "close": (409, 200, 200, 403),
    "release": (409, 200, 200, 403),
    "transfer": (403, 200, 200, 403),
    "consent": (409, 200, 200, 403),
    "audit": (403, 200, 200, 403),
}
ROLES = (cases.CASEWORKER, cases.SUPERVISOR, cases.ADMIN, cases.EDITOR)


@pytest.mark.parametrize("role", ROLES, ids=list(ROLES))
def test_every_route_for_every_role(
    client: TestClient, state: AppState, world: World, role: str
) -> None:
    _user_id, token = user_token(state, "Mine", role)
    with state.db.session() as session:
        alice_id = world.alice_id
        assert session.get(User, alice_id) is not None
    statuses = {}
    for name in SAME_ORGANISATION:
        case_id = claimed_case(state, client, world.bob)
        method, suffix, body = ROUTES[name]
        if name == "transfer":
            body = {"user_id": alice_id}
        statuses[name] = client.request(
            method, f"/api/v1/cases/{case_id}{suffix}", json=body, headers=bearer(token)
        ).status_code
    elsewhere = new_case(state, language="ar")
    hidden = {
        name: client.request(
            method, f"/api/v1/cases/{elsewhere}{suffix}", json=body, headers=bearer(token)
        ).status_code
        for name, (method, suffix, body) in ROUTES.items()
    }
    listing = client.get("/api/v1/cases", headers=bearer(token)).status_code
    # The supervisor's and the admin's release put one case back in the queue.
    handed = tuple(
        client.post("/api/v1/cases/next", headers=bearer(token)).status_code for _ in range(2)
    )
    alerts = client.get("/api/v1/alerts", headers=bearer(token)).status_code

    column = ROLES.index(role)
    assert statuses == {name: codes[column] for name, codes in SAME_ORGANISATION.items()}
    assert hidden == dict.fromkeys(ROUTES, 403 if role == cases.EDITOR else 404)
    assert (listing, handed, alerts) == {
        cases.CASEWORKER: (200, (204, 204), 403),
        cases.SUPERVISOR: (200, (200, 204), 200),
        cases.ADMIN: (200, (200, 204), 200),
        cases.EDITOR: (403, (403, 403), 403),
    }[role]


def test_figures_for_supervisors(client: TestClient, state: AppState, world: World) -> None:
    _supervisor_id, supervisor = user_token(state, "Mine", cases.SUPERVISOR)
    new_case(state, priority="high")

    figures = client.get("/api/v1/figures", params={"days": 7}, headers=bearer(supervisor))
    forbidden = client.get("/api/v1/figures", headers=bearer(world.alice))
    bad = client.get("/api/v1/figures", params={"days": 0}, headers=bearer(supervisor))

    assert figures.status_code == 200
    body = figures.json()
    assert (body["days"], body["waiting"]["high"], body["opened"], body["average_rating"]) == (
        7,
        1,
        1,
        None,
    )
    assert (forbidden.status_code, bad.status_code) == (403, 422)


def test_transfer_targets(client: TestClient, state: AppState, world: World) -> None:
    _editor_id, editor = user_token(state, "Mine", cases.EDITOR)
    with state.db.session() as session:
        bob = session.scalar(select(User).where(User.username == "bob"))
        assert bob is not None
        bob.is_active = False

    colleagues = client.get("/api/v1/colleagues", headers=bearer(world.alice))
    organisations = client.get("/api/v1/organisations", headers=bearer(world.alice))
    forbidden = (
        client.get("/api/v1/colleagues", headers=bearer(editor)).status_code,
        client.get("/api/v1/organisations", headers=bearer(editor)).status_code,
    )

    assert [(c["id"], c["username"], c["role"]) for c in colleagues.json()] == [
        (world.alice_id, "alice", "caseworker")
    ]
    assert [(o["name"], o["languages"], o["countries"]) for o in organisations.json()] == [
        ("Theirs", ["ar"], [])
    ]
    assert forbidden == (403, 403)
