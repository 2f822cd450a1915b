"""The outbox: outbound messages are rows first, then sent through their channel.

A row moves queued -> sending -> sent (or delivered) exactly once: the move to
``sending`` is a conditional UPDATE, so two deliverers never send the same row.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot.app_state import AppState
from bot.errors import DeliveryFailed
from bot.models import Contact, Conversation, Message, utcnow
from channels.base import Choice, Outgoing

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def queue_outgoing(
    session: Session,
    conversation: Conversation,
    parts: Sequence[Outgoing],
    *,
    author: str,
    case_id: int | None = None,
) -> list[int]:
    """Store rendered parts as queued outbound rows; returns their ids in order."""
    rows = [
        Message(
            conversation_id=conversation.id,
            direction="out",
            author=author,
            channel=conversation.contact.channel,
            body=part.text,
            payload=json.dumps(
                {
                    "choices": [{"title": c.title, "payload": c.payload} for c in part.choices],
                    "language": part.language,
                }
            ),
            status="queued",
            case_id=case_id,
        )
        for part in parts
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _claim(state: AppState, message_id: int) -> tuple[str, str, Outgoing] | None:
    with state.db.session() as session:
        result = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(status="sending", attempts=Message.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        claimed = cast(CursorResult[Any], result).rowcount
        if claimed != 1:
            return None
        message = session.get(Message, message_id)
        assert message is not None
        contact = session.scalar(
            select(Contact).join(Conversation).where(Conversation.id == message.conversation_id)
        )
        assert contact is not None
        payload = json.loads(message.payload) if message.payload else {}
        outgoing = Outgoing(
            text=message.body or "",
            choices=tuple(Choice(c["title"], c["payload"]) for c in payload.get("choices", [])),
            language=payload.get("language", "en"),
        )
        return message.channel, contact.address, outgoing


def _finish(
    state: AppState,
    message_id: int,
    status: str,
    provider_id: str | None = None,
    error: str | None = None,
) -> None:
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:  # erased meanwhile
            return
        message.status = status
        message.provider_id = provider_id or message.provider_id
        message.error = error
        message.processed_at = utcnow()


async def deliver(state: AppState, message_id: int) -> str:
    """Send one queued outbound row; returns its new status."""
    claimed = await asyncio.to_thread(_claim, state, message_id)
    if claimed is None:
        return "skipped"
    channel_name, address, outgoing = claimed
    channel = state.channels.get(channel_name)
    if channel is None:
        await asyncio.to_thread(_finish, state, message_id, "failed", None, "channel is off")
        log.error("outbound message %s: channel %s is not configured", message_id, channel_name)
        return "failed"
    try:
        provider_id = await channel.send(address, outgoing)
    except DeliveryFailed as failure:
        attempts = await asyncio.to_thread(_attempts, state, message_id)
        status = "failed" if failure.permanent or attempts >= MAX_ATTEMPTS else "queued"
        await asyncio.to_thread(_finish, state, message_id, status, None, failure.reason[:200])
        log.warning(
            "outbound message %s on %s: %s (%s)", message_id, channel_name, failure.reason, status
        )
        return status
    status = "delivered" if channel.delivers_on_send else "sent"
    await asyncio.to_thread(_finish, state, message_id, status, provider_id)
    return status


def _attempts(state: AppState, message_id: int) -> int:
    with state.db.session() as session:
        message = session.get(Message, message_id)
        return message.attempts if message else MAX_ATTEMPTS


async def deliver_all(state: AppState, message_ids: Sequence[int]) -> None:
    """Send in order; a part that fails stops the rest so that parts never arrive out of order."""
    for message_id in message_ids:
        if await deliver(state, message_id) not in {"sent", "delivered", "skipped"}:
            break
