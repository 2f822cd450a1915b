"""``POST /nlg`` (bot/routes/nlg.py): the language of the answer, and what it costs to find."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from bot.app_state import AppState
from bot.config import Settings
from tests.helpers import factories
from tests.helpers.app import make_app


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    return make_app(settings, monkeypatch)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def french_speaker(app: FastAPI) -> str:
    state: AppState = app.state.helpline
    with state.db.session() as session:
        return factories.conversation(session, language="fr").contact.pseudonym


def greeting(sender: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "response": "utter_greet",
        "arguments": {},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": {"text": "hello", "metadata": metadata},
        },
        "channel": {"name": "rest"},
    }


def statements(app: FastAPI) -> list[str]:
    """Every SQL statement the application runs from now on."""
    seen: list[str] = []
    engine = app.state.helpline.db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    return seen


def test_without_a_language_the_conversation_s_own_is_used(
    app: FastAPI, client: TestClient
) -> None:
    sender = french_speaker(app)
    token = app.state.helpline.settings.rasa_token.reveal()

    answer = client.post(f"/nlg?token={token}", json=greeting(sender, {"channel": "web"}))

    assert answer.status_code == 200
    assert answer.json()["text"].startswith("Bonjour")


def test_a_language_named_in_the_metadata_wins_and_spares_the_database(
    app: FastAPI, client: TestClient
) -> None:
    sender = french_speaker(app)
    token = app.state.helpline.settings.rasa_token.reveal()
    seen = statements(app)

    answer = client.post(
        f"/nlg?token={token}", json=greeting(sender, {"channel": "web", "language": "en"})
    )

    assert answer.json()["text"].startswith("Hello. I am the automatic assistant")
    assert seen == []
