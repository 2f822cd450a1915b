"""Fixtures for the custom action tests: real rasa-sdk trackers and dispatchers.

Run from the repository root with the Rasa environment:
    .venv-rasa/bin/python -m pytest tests/actions
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

SENDER_ID = "c-3f9a1e"
METADATA = {"channel": "whatsapp", "language": "en", "country": None}


def user_message(
    text: str, intent: str, entities: list[dict[str, Any]] | None = None, **parse: Any
) -> dict[str, Any]:
    """The parse data of one user message, as Rasa sends it to the action server."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.98},
        "entities": entities or [],
        "metadata": METADATA,
        **parse,
    }


def build_tracker(latest_message: dict[str, Any], slots: dict[str, Any] | None = None) -> Tracker:
    return Tracker(
        sender_id=SENDER_ID,
        slots=slots or {},
        latest_message=latest_message,
        events=[
            {"event": "action", "name": "action_listen"},
            {
                "event": "user",
                "text": latest_message["text"],
                "parse_data": latest_message,
                "metadata": METADATA,
            },
        ],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    """Build a tracker whose latest message has this text, intent and entities."""

    def make(
        text: str,
        intent: str,
        entities: list[dict[str, Any]] | None = None,
        slots: dict[str, Any] | None = None,
        **parse: Any,
    ) -> Tracker:
        return build_tracker(user_message(text, intent, entities, **parse), slots)

    return make
