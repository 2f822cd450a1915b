"""What the channel tests share: the helpline's provider settings, a scripted Rasa, row readers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.app_state import AppState
from bot.models import Contact, Conversation, Message

PUBLIC_BASE_URL = "https://helpline.example.org"
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "+14155238886"
TELEGRAM_SECRET = "webhook-secret_0123456789"


class ScriptedRasa:
    """Stands in for the Rasa server: records what the worker sends and answers from a script."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._script: dict[str, list[dict[str, Any]]] = {}

    def answer(self, text: str, *replies: dict[str, Any]) -> None:
        self._script[text] = list(replies)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        self.received.append((text, metadata))
        return self._script.get(text, [])

    async def reset_tracker(self, sender: str) -> None:
        return None

    async def status(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        return None


def rows(state: AppState, **where: Any) -> list[Message]:
    """Messages, oldest first, filtered by column values."""
    with state.db.session() as session:
        query = select(Message).order_by(Message.id)
        for column, value in where.items():
            query = query.where(getattr(Message, column) == value)
        return list(session.scalars(query))


def contact_of(state: AppState, conversation_id: int) -> Contact:
    with state.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.contact
