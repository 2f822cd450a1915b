"""The outbox: outbound messages are rows first, then sent through their channel.

A row moves queued -> sending -> sent (or delivered) exactly once: the move to
``sending`` is a conditional UPDATE, so two deliverers never send the same row.
A provider that asks to wait (429, Retry-After) or fails for a moment (5xx, time-out)
is tried again by the same deliverer, after the wait it names or with backoff, so
that the parts of an answer keep their order; a permanent failure is recorded on the
row and on the case. Delivery reports from the provider (``record_status``) move a
row forward only: sent -> delivered -> read, or failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, bindparam, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot import cases
from bot.app_state import AppState
from bot.errors import DeliveryFailed, OutcomeUnknown, describe
from bot.models import Contact, Conversation, Message, utcnow
from channels.base import Choice, Outgoing

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# Seconds to wait before attempt n + 1 when the provider names no wait.
BACKOFF = (1.0, 2.0, 4.0, 8.0)
# A longer wait leaves the row queued for the worker's sweep rather than holding the conversation.
MAX_INLINE_WAIT = 60.0
# How long a deliverer holds a row it is sending before another may decide what became of
# it: longer than one provider call (each channel's client gives up within 30 seconds).
SEND_LEASE = timedelta(seconds=45)
# How far each status is along; a late or repeated delivery report never moves a row back.
PROGRESS = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


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
                | ({"template": part.template} if part.template else {})
            ),
            status="queued",
            case_id=case_id,
        )
        for part in parts
    ]
    session.add_all(rows)
    offered = [part.choices for part in parts if part.choices]
    if parts:
        # What a numbered reply or a button's key will be read against (Channel.interpret).
        conversation.last_menu = (
            [{"title": c.title, "payload": c.payload} for c in offered[-1]] if offered else None
        )
    session.flush()
    return [row.id for row in rows]


# Built once: SQLAlchemy then finds each compiled statement without building it anew.
_DELIVERABLE = (
    select(Message.id)
    .where(
        Message.direction == "out",
        Message.status == "queued",
        Message.conversation_id.not_in(
            select(Message.conversation_id).where(
                Message.direction == "out", Message.status == "sending"
            )
        ),
    )
    .order_by(Message.id)
)
_DELIVERABLE_OF = _DELIVERABLE.where(Message.conversation_id == bindparam("conversation_id"))


def deliverable(session: Session, conversation_id: int | None = None) -> list[int]:
    """Queued outbound rows, oldest first, of one conversation or of all.

    A conversation with a row still being sent (or whose deliverer died mid-send) is
    left out until that row is settled, so that its parts never arrive out of order;
    rows left queued by an earlier turn (the database failed after its commit) go
    before the new ones.
    """
    if conversation_id is None:
        return list(session.scalars(_DELIVERABLE))
    return list(session.scalars(_DELIVERABLE_OF, {"conversation_id": conversation_id}))


@dataclass(frozen=True)
class Claimed:
    channel: str
    address: str
    outgoing: Outgoing
    last_inbound_at: datetime | None


_CLAIM = (
    update(Message)
    .where(Message.id == bindparam("message_id"), Message.status == "queued")
    .values(status="sending", attempts=Message.attempts + 1, lease_until=bindparam("lease"))
    .execution_options(synchronize_session=False)
)
# The columns a send needs, not the row: no object for the session to track.
_CLAIMED = (
    select(
        Message.channel,
        Message.body,
        Message.payload,
        Contact.address,
        Conversation.last_inbound_at,
    )
    .join(Conversation, Message.conversation_id == Conversation.id)
    .join(Contact, Conversation.contact_id == Contact.id)
    .where(Message.id == bindparam("message_id"))
)


def _claim(state: AppState, message_id: int) -> Claimed | None:
    with state.db.session() as session:
        result = session.execute(_CLAIM, {"message_id": message_id, "lease": utcnow() + SEND_LEASE})
        claimed = cast(CursorResult[Any], result).rowcount
        if claimed != 1:
            return None
        channel, body, payload, address, last_inbound_at = session.execute(
            _CLAIMED, {"message_id": message_id}
        ).one()
        return Claimed(channel, address, _part(body, payload), last_inbound_at)


def _outgoing(message: Message) -> Outgoing:
    """The part an outbound row holds, as the channel sends it."""
    return _part(message.body, message.payload)


def _part(body: str | None, stored_payload: str | None) -> Outgoing:
    payload = json.loads(stored_payload) if stored_payload else {}
    return Outgoing(
        text=body or "",
        choices=tuple(Choice(c["title"], c["payload"]) for c in payload.get("choices", [])),
        language=payload.get("language", "en"),
        template=payload.get("template"),
    )


_FINISH = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(
        status=bindparam("new_status"),
        lease_until=None,
        provider_id=func.coalesce(bindparam("new_provider_id", type_=String), Message.provider_id),
        error=bindparam("new_error", type_=String),
        processed_at=bindparam("finished_at"),
    )
    .execution_options(synchronize_session=False)
)


def _finish(
    state: AppState,
    message_id: int,
    status: str,
    provider_id: str | None = None,
    failure: DeliveryFailed | None = None,
) -> None:
    with state.db.session() as session:
        # One UPDATE: the row (and its encrypted body) is only loaded when a failure must
        # reach the case. No row changed: it was erased meanwhile.
        session.execute(
            _FINISH,
            {
                "message_id": message_id,
                "new_status": status,
                "new_provider_id": provider_id or None,
                "new_error": failure.reason[:200] if failure else None,
                "finished_at": utcnow(),
            },
        )
        if failure is not None and status == "failed":
            message = session.get(Message, message_id)
            if message is not None:
                _failed(session, message, failure.reason, unreachable=failure.unreachable)


def _failed(session: Session, message: Message, reason: str, *, unreachable: bool) -> None:
    """A permanent failure shows on the case; an unreachable person is marked so."""
    cases.record_delivery_failure(session, message, reason[:200])
    if unreachable:
        contact = session.scalar(
            select(Contact).join(Conversation).where(Conversation.id == message.conversation_id)
        )
        if contact is not None:
            contact.unreachable = True


def _another_attempt(state: AppState, message_id: int) -> bool:
    """Count one more attempt of a row being sent; False when it is gone (erased)."""
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.status != "sending":
            return False
        message.attempts += 1
        message.lease_until = utcnow() + SEND_LEASE
        return True


def _hold(state: AppState, message_id: int, seconds: float) -> None:
    """Keep the row while waiting ``seconds`` before its next attempt."""
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is not None and message.status == "sending":
            message.lease_until = utcnow() + timedelta(seconds=seconds) + SEND_LEASE


def reply_window_closed(
    channel: Any,
    last_inbound_at: datetime | None,
    helpline_hours: int | None,
    *,
    template: bool = False,
) -> DeliveryFailed | None:
    """Why a message cannot go to the person now, or None when it can.

    Two windows count from the person's last message: the provider's (WhatsApp: 24 hours,
    after which only an approved template goes through, inviting the person to write again)
    and the helpline's own (HELPLINE_REPLY_WINDOW_HOURS, every channel, templates too):
    past it, whoever holds the phone would read a message nobody there asked for.
    """
    if helpline_hours is not None and not _wrote_within(last_inbound_at, helpline_hours):
        return DeliveryFailed(
            f"refused: more than {helpline_hours} hours since the person last wrote; the "
            "helpline writes only to someone who wrote recently, so that no message arrives "
            "unprompted (HELPLINE_REPLY_WINDOW_HOURS)",
            permanent=True,
        )
    hours = channel.limits.reply_window_hours
    if hours is None or template or _wrote_within(last_inbound_at, hours):
        return None
    return DeliveryFailed(
        f"refused: more than {hours} hours since the person last wrote, and {channel.name} "
        "then accepts only approved template messages (Twilio error 63016)",
        permanent=True,
    )


def _wrote_within(last_inbound_at: datetime | None, hours: int) -> bool:
    return last_inbound_at is not None and utcnow() - last_inbound_at <= timedelta(hours=hours)


def reply_refused(state: AppState, session: Session, message: Message) -> DeliveryFailed | None:
    """Why a caseworker's new message cannot go to the person now, or None when it can."""
    channel = state.channels.get(message.channel)
    conversation = session.get(Conversation, message.conversation_id)
    if channel is None or conversation is None:
        return None
    return reply_window_closed(
        channel, conversation.last_inbound_at, state.settings.reply_window_hours
    )


async def deliver(state: AppState, message_id: int) -> str:
    """Send one queued outbound row; returns its new status."""
    claimed = await asyncio.to_thread(_claim, state, message_id)
    if claimed is None:
        return "skipped"
    channel = state.channels.get(claimed.channel)
    if channel is None:
        await asyncio.to_thread(
            _finish, state, message_id, "failed", None, DeliveryFailed("channel is off")
        )
        log.error("outbound message %s: channel %s is not configured", message_id, claimed.channel)
        return "failed"
    refused = reply_window_closed(
        channel,
        claimed.last_inbound_at,
        state.settings.reply_window_hours,
        template=claimed.outgoing.template is not None,
    )
    if refused is not None:
        await asyncio.to_thread(_finish, state, message_id, "failed", None, refused)
        log.warning("outbound message %s on %s: %s", message_id, channel.name, refused.reason)
        return "failed"
    while True:
        try:
            await channel.pace(claimed.address)
            provider_id = await channel.send(claimed.address, claimed.outgoing)
            break
        except asyncio.CancelledError:
            # Shutting down mid-send: the provider may have it. The row stays "sending"
            # and ``recover`` asks the provider once the lease is over.
            raise
        except Exception as error:
            if isinstance(error, DeliveryFailed):
                failure = error
            else:
                # Not a refusal the channel understood: the provider may or may not have
                # the message, so it is not sent again blindly; ``recover`` decides.
                log.error(
                    "outbound message %s on %s: unexpected %s while sending; "
                    "its outcome is checked when the lease ends",
                    message_id,
                    channel.name,
                    describe(error),
                )
                return "sending"
            attempts = await asyncio.to_thread(_attempts, state, message_id)
            retry = not failure.permanent and attempts < MAX_ATTEMPTS
            wait = failure.retry_after
            if wait is None:
                wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
            if retry and wait <= MAX_INLINE_WAIT:
                log.info(
                    "outbound message %s on %s: %s; attempt %d in %.1fs",
                    message_id,
                    channel.name,
                    failure.reason,
                    attempts + 1,
                    wait,
                )
                await asyncio.to_thread(_hold, state, message_id, wait)
                await asyncio.sleep(wait)
                if not await asyncio.to_thread(_another_attempt, state, message_id):
                    return "skipped"
                continue
            status = "queued" if retry else "failed"
            await asyncio.to_thread(_finish, state, message_id, status, None, failure)
            log.warning(
                "outbound message %s on %s: %s (%s)",
                message_id,
                channel.name,
                failure.reason,
                status,
            )
            return status
    status = "delivered" if channel.delivers_on_send else "sent"
    await asyncio.to_thread(_finish, state, message_id, status, provider_id)
    return status


def _attempts(state: AppState, message_id: int) -> int:
    with state.db.session() as session:
        message = session.get(Message, message_id)
        return message.attempts if message else MAX_ATTEMPTS


_OURS = (
    Message.channel.in_(bindparam("channels", expanding=True)),
    Message.provider_id == bindparam("reported_id"),
    Message.direction == "out",
)
_REPORT = (
    update(Message)
    .where(*_OURS, Message.status.in_(bindparam("behind", expanding=True)))
    .values(
        status=bindparam("new_status"),
        error=func.coalesce(bindparam("new_error", type_=String), Message.error),
    )
    .returning(Message.id)
    .execution_options(synchronize_session=False)
)
_REPORTED = select(Message.id).where(*_OURS)


def record_status(
    session: Session,
    channels: Collection[str],
    provider_id: str,
    status: str,
    *,
    error: str | None = None,
    unreachable: bool = False,
) -> bool | None:
    """Apply a provider's delivery report to the outbound row it names.

    Returns None when no row has that provider id (erased, or not ours), False when
    the report is stale (the row is already as far or further), True when applied.
    """
    ours = {"channels": list(channels), "reported_id": provider_id}
    behind = [name for name, step in PROGRESS.items() if step < PROGRESS[status]]
    # One statement for the usual report; only the id comes back, so that a report for
    # every message sent decrypts no body.
    message_id = session.scalar(
        _REPORT,
        ours
        | {"behind": behind, "new_status": status, "new_error": error[:200] if error else None},
    )
    if message_id is None:
        return None if session.scalar(_REPORTED, ours) is None else False
    if status == "failed":
        message = session.get(Message, message_id)
        assert message is not None
        _failed(session, message, error or "failed", unreachable=unreachable)
    return True


async def deliver_all(state: AppState, message_ids: Sequence[int]) -> None:
    """Send in order; a part that fails stops the rest so that parts never arrive out of order."""
    for message_id in message_ids:
        if await deliver(state, message_id) not in {"sent", "delivered", "skipped"}:
            break


@dataclass(frozen=True)
class Stranded:
    """A row whose deliverer's lease ran out while it was "sending"."""

    message_id: int
    channel: str
    address: str
    outgoing: Outgoing
    since: datetime


def _stranded(state: AppState, limit: int) -> list[Stranded]:
    """Take over rows left "sending" by a dead deliverer (each taken by one recoverer)."""
    now = utcnow()
    with state.db.session() as session:
        candidates = list(
            session.scalars(
                select(Message.id)
                .where(
                    Message.direction == "out",
                    Message.status == "sending",
                    (Message.lease_until < now) | Message.lease_until.is_(None),
                )
                .order_by(Message.id)
                .limit(limit)
            )
        )
    found = []
    for message_id in candidates:
        with state.db.session() as session:
            taken = session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    Message.status == "sending",
                    (Message.lease_until < now) | Message.lease_until.is_(None),
                )
                .values(lease_until=utcnow() + SEND_LEASE)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], taken).rowcount != 1:
                continue
            message = session.get(Message, message_id)
            assert message is not None
            contact = session.scalar(
                select(Contact).join(Conversation).where(Conversation.id == message.conversation_id)
            )
            if contact is None:
                continue
            found.append(
                Stranded(
                    message_id,
                    message.channel,
                    contact.address,
                    _outgoing(message),
                    message.created_at,
                )
            )
    return found


def _requeue(state: AppState, message_id: int) -> None:
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is not None and message.status == "sending":
            message.status = "queued"
            message.lease_until = None


async def recover(state: AppState, limit: int = 100) -> None:
    """Decide what became of rows whose deliverer died mid-send, without sending twice.

    The provider is asked whether it has the message (``Channel.find_sent``): if it
    has, the row is marked sent with the provider's id; if it has not, the row is
    queued again and the sweep sends it. A channel that cannot be asked gets
    at-most-once: the row is marked failed ("may not have arrived"), shown on the
    case, rather than risk the person receiving it twice.
    """
    for row in await asyncio.to_thread(_stranded, state, limit):
        channel = state.channels.get(row.channel)
        if channel is None:
            continue
        try:
            provider_id = await channel.find_sent(row.address, row.outgoing, row.since)
        except OutcomeUnknown as unknown:
            failure = DeliveryFailed(
                f"{channel.name}: interrupted while sending and {unknown.reason}; "
                "not sent again so that it cannot arrive twice",
                permanent=True,
            )
            await asyncio.to_thread(_finish, state, row.message_id, "failed", None, failure)
            log.warning("outbound message %s on %s: outcome unknown", row.message_id, channel.name)
            continue
        except DeliveryFailed as failure:
            # The provider cannot be asked now; the next sweep asks again.
            log.warning(
                "outbound message %s on %s: outcome not checked (%s)",
                row.message_id,
                channel.name,
                failure.reason,
            )
            continue
        if provider_id is not None:
            status = "delivered" if channel.delivers_on_send else "sent"
            await asyncio.to_thread(_finish, state, row.message_id, status, provider_id or None)
            log.info("outbound message %s on %s: had been sent", row.message_id, channel.name)
        else:
            await asyncio.to_thread(_requeue, state, row.message_id)
            log.info(
                "outbound message %s on %s: not sent; queued again", row.message_id, channel.name
            )
