from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app_state import AppState
from bot.config import Settings
from bot.inbox import RECEIVED, find_contact
from bot.models import Conversation, Message
from channels.base import Outgoing
from channels.web import COOKIE, MAX_TEXT, WebChannel
from tests.helpers import factories
from tests.helpers.app import make_app


class RecordingQueue:
    """Wraps the real queue and notes every wake-up."""

    def __init__(self, queue: object) -> None:
        self._queue = queue
        self.woken: list[int] = []

    async def put(self, conversation_id: int) -> None:
        self.woken.append(conversation_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self._queue, name)


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    return make_app(settings, monkeypatch)


@pytest.fixture
def state(app: FastAPI) -> AppState:
    helpline: AppState = app.state.helpline
    return helpline


@pytest.fixture
def queue(state: AppState) -> RecordingQueue:
    recording = RecordingQueue(state.queue)
    state.queue = recording  # type: ignore[assignment]
    return recording


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_simulator_page_is_served(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "__LANGUAGES__" not in response.text
    assert "العربية" in response.text
    assert client.get("/static/simulator.js").status_code == 200


def test_posting_stores_through_the_inbox_with_a_cookie(
    client: TestClient, state: AppState, queue: RecordingQueue
) -> None:
    response = client.post("/simulator/messages", json={"text": "hello", "language": "fil"})

    assert response.status_code == 202
    cookie = client.cookies.get(COOKIE)
    assert cookie
    assert "httponly" in response.headers["set-cookie"].lower()
    with state.db.session() as session:
        contact = find_contact(session, "web", f"simulator:{cookie}")
        assert contact is not None
        message = session.get(Message, response.json()["id"])
        assert message is not None
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None and conversation.contact_id == contact.id
        assert (message.direction, message.channel, message.body, message.status) == (
            "in",
            "web",
            "hello",
            RECEIVED,
        )
        assert conversation.language == "tl"
    assert queue.woken == [message.conversation_id]


def test_same_cookie_same_conversation(
    client: TestClient, state: AppState, queue: RecordingQueue
) -> None:
    client.post("/simulator/messages", json={"text": "one"})
    client.post("/simulator/messages", json={"text": "two"})

    with state.db.session() as session:
        conversations = set(session.scalars(select(Message.conversation_id)))
    assert len(conversations) == 1
    assert queue.woken == list(conversations) * 2


def test_get_returns_only_that_cookies_conversation(
    client: TestClient, state: AppState, queue: RecordingQueue
) -> None:
    client.post("/simulator/messages", json={"text": "I am Amina", "language": "ar"})
    amina = client.cookies.get(COOKIE)
    client.cookies.clear()
    client.post("/simulator/messages", json={"text": "I am Binod"})
    binod = client.cookies.get(COOKIE)
    assert amina != binod
    with state.db.session() as session:
        contact = find_contact(session, "web", f"simulator:{amina}")
        conversation = session.scalar(
            select(Conversation).where(Conversation.contact_id == contact.id)
        )  # type: ignore[union-attr]
        assert conversation is not None
        factories.inbound(session, conversation, "ignored", status="done")
        outbound = Message(
            conversation_id=conversation.id,
            direction="out",
            author="bot",
            channel="web",
            body="مرحبا",
            payload='{"choices": [{"title": "نعم", "payload": "/affirm"}]}',
            status="delivered",
        )
        session.add(outbound)

    client.cookies.clear()
    client.cookies.set(COOKIE, amina)
    body = client.get("/simulator/messages").json()

    assert [(m["direction"], m["text"]) for m in body["messages"]] == [
        ("in", "I am Amina"),
        ("in", "ignored"),
        ("out", "مرحبا"),
    ]
    assert body["messages"][-1]["choices"] == [{"title": "نعم", "payload": "/affirm"}]
    assert (body["mode"], body["language"], body["dir"]) == ("bot", "ar", "rtl")
    after = client.get("/simulator/messages", params={"after": body["messages"][1]["id"]}).json()
    assert [m["text"] for m in after["messages"]] == ["مرحبا"]

    client.cookies.clear()
    client.cookies.set(COOKIE, binod)
    assert [m["text"] for m in client.get("/simulator/messages").json()["messages"]] == [
        "I am Binod"
    ]


@pytest.mark.parametrize("cookie", [None, "never-used"], ids=["no-cookie", "unknown-cookie"])
def test_get_without_a_conversation_is_empty(client: TestClient, cookie: str | None) -> None:
    if cookie:
        client.cookies.set(COOKIE, cookie)

    assert client.get("/simulator/messages").json() == {"messages": [], "mode": "bot"}


def test_text_length_is_checked(client: TestClient, state: AppState, queue: RecordingQueue) -> None:
    bodies = {
        "empty": {"text": ""},
        "5000-chars": {"text": "x" * 5000},
        "missing": {},
        "long-language": {"text": "hi", "language": "x" * 9},
        "longest-allowed": {"text": "x" * MAX_TEXT},
    }

    statuses = {
        name: client.post("/simulator/messages", json=body).status_code
        for name, body in bodies.items()
    }

    assert statuses == {
        "empty": 422,
        "5000-chars": 422,
        "missing": 422,
        "long-language": 422,
        "longest-allowed": 202,
    }
    with state.db.session() as session:
        assert [m.body for m in session.scalars(select(Message))] == ["x" * MAX_TEXT]
    assert len(queue.woken) == 1


async def test_sending_is_storing() -> None:
    channel = WebChannel(state=None)  # type: ignore[arg-type]

    assert await channel.send("simulator:x", Outgoing("hello")) is None
    assert channel.delivers_on_send is True
