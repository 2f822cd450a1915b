"""What the channel tests share: the helpline's provider settings, a scripted Rasa, row readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot import outbox
from bot.app_state import AppState
from bot.models import Case, Contact, Conversation, Message, utcnow
from channels.base import Outgoing
from tests.helpers import factories, fake_telegram, fake_twilio

PUBLIC_BASE_URL = "https://helpline.example.org"
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "+14155238886"
TELEGRAM_SECRET = "webhook-secret_0123456789"
# What the helpline says first to a new person, in English.
FIRST_ANSWER_EN = 'This chat is confidential. To erase it, write "delete".'


def provider_settings(public_base_url: str, twilio_url: str, telegram_url: str) -> dict[str, str]:
    """The variables that turn SMS, WhatsApp and Telegram on, against the fakes at these URLs."""
    return {
        "PUBLIC_BASE_URL": public_base_url,
        "TWILIO_ACCOUNT_SID": fake_twilio.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": fake_twilio.AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_API_BASE_URL": twilio_url,
        "TELEGRAM_BOT_TOKEN": fake_telegram.BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_url,
    }


# What people write that a careless parser mangles; every one must be stored exactly.
ODD_TEXTS = {
    "emoji-zwj": "👩🏽‍🍳 help 🙏🏾",
    "arabic": "صاحب العمل أخذ جواز سفري",
    "amharic": "ፓስፖርቴን ወሰዱብኝ።",
    "nepali": "मेरो राहदानी लिइयो।",
    "plus-ampersand-equals": "1+1=2 & 50% of €100",
    "crlf-and-tabs": "line one\r\nline two\tend",
    "combining-marks": "café vs cafe\u0301",
    "nul-and-controls": "a\x00b\x07c",
    "right-to-left-marks": "\u200fمرحبا\u200e hello",
    "10000-characters": "I work every day. " * 555 + "Help me now.",
}


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

    async def answer_of(self, sender: str, message_id: int) -> list[dict[str, Any]] | None:
        """What Rasa's tracker shows it answered to ``message_id``; None if it never got it."""
        for text, metadata in self.received:
            if metadata.get("message_id") == message_id:
                return self._script.get(text, [])
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


def new_conversation(
    state: AppState,
    channel: str,
    address: str,
    *,
    wrote_hours_ago: float = 0.0,
    with_case: bool = False,
) -> int:
    """A conversation whose person last wrote ``wrote_hours_ago``; returns its id."""
    with state.db.session() as session:
        conversation = factories.conversation(session, channel=channel, address=address)
        conversation.last_inbound_at = utcnow() - timedelta(hours=wrote_hours_ago)
        if with_case:
            factories.case(session, conversation)
        return conversation.id


def queue(state: AppState, conversation_id: int, *parts: Outgoing) -> list[int]:
    """Bot answers in the outbox, as the worker leaves them."""
    with state.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return outbox.queue_outgoing(session, conversation, parts, author="bot")


def case_events(state: AppState) -> list[tuple[str, dict[str, Any]]]:
    """The events of the only case."""
    with state.db.session() as session:
        case = session.scalars(select(Case)).one()
        return [(event.kind, event.data) for event in case.events]


async def eventually(check: Callable[[], object], timeout: float = 3.0) -> None:
    """Poll ``check`` until it is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.01)
