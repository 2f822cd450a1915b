"""The worker: reads each conversation's pending inbound messages in order and answers them.

Bot mode: the message goes to Rasa's REST channel under the conversation's
pseudonym; Rasa's texts are rendered for the channel and stored in the outbox in
the same transaction that marks the inbound row done, then sent. Control messages
from actions (``{"helpline": {...}}``) open cases and change the language.
Human mode: the message is appended to the open case; the bot stays silent.
A reply "1" to "5" to the rating question asked when a case closed is recorded on
that case and never reaches Rasa. The periodic sweep also marks first-response
deadlines missed and alerts the supervisors (``bot.cases.sweep_deadlines``), and flags
overdue referrals on their cases (``bot.referrals.sweep_overdue``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import aliased

from bot import cases, closing, erasure, langid, outbox, redflags, referrals, retention
from bot.app_state import AppState
from bot.errors import RasaUnavailable, describe
from bot.i18n import N_, _
from bot.inbox import DONE, RECEIVED
from bot.keywords import ERASE_PAYLOAD
from bot.languages import normalise
from bot.models import Contact, Conversation, Message, utcnow
from bot.ratelimit import RATE_LIMITED, RATE_LIMITED_FIRST
from channels.base import Choice, Outgoing

log = logging.getLogger(__name__)

MAX_CONCURRENT_CONVERSATIONS = 64
# Rasa reads at most this much of a message; the whole text stays stored for a caseworker.
MAX_BOT_TEXT = 2000
SWEEP_SECONDS = 10.0
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
QUEUE_RETRY_SECONDS = 1.0
# Longer than any legitimate turn: Rasa's 60 s, then every part's retries.
MESSAGE_SECONDS = 600.0


@dataclass
class Turn:
    """What handling one inbound message decided, to apply in one transaction."""

    parts: list[Outgoing] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    # The person wrote their safe word: an innocuous answer, nothing else.
    safe_word: bool = False
    # Human mode: True when this message asked to erase (the answer to the
    # confirmation goes to Rasa too), False when it answered the confirmation.
    erase_requested: bool | None = None


# How long an erase request made while a case is open waits for its confirmation.
ERASE_CONFIRMATION_WINDOW = timedelta(hours=1)
# What the helpline answers to a safe word: it must look like any shop's message.
INNOCUOUS = N_(
    "Your order has been shipped and will arrive in 3 to 5 days. Thank you for shopping with us."
)
# Said once a minute to someone over the per-sender limit (bot.ratelimit).
TOO_FAST = N_(
    "You are writing very fast. Your messages are kept, but I will read new ones "
    "in a minute. Please wait a moment."
)
# Said once, in the first answer to a new person.
FIRST_ANSWER_NOTICE = N_('This chat is confidential. To erase it, write "{word}".')

# What looks like a phone number (eight digits or more, with the usual separators) is
# masked in what Rasa reads: Rasa needs the words, never a number that names someone.
PHONE_NUMBER = re.compile(r"\+?\(?\d(?:[\s().-]{0,2}\d){7,}")
MASK = "<number>"


def mask_numbers(text: str) -> str:
    return PHONE_NUMBER.sub(MASK, text)


# The language is a sticky preference: it changes when the person asks, or when they
# write clearly and at length in another supported language. Five words: at four, one
# switch in forty on the held-out sets was wrong (romanised Nepali or Arabizi full of
# English words), at five one in a hundred (`python -m bot.langid.evaluate`).
SWITCH_MIN_WORDS = 5
SWITCH_MIN_CONFIDENCE = 0.95


# Enough letters to tell a language apart from a typo or a name.
UNSUPPORTED_MIN_LETTERS = 8


def in_unsupported_language(text: str, guess: langid.Guess) -> bool:
    """Clearly written in a language the helpline does not serve, with no red flag in it.

    Such a message gets the language menu instead of a bot that would not understand it.
    A message with a red flag goes to Rasa whatever its language: the flag must not be lost.
    """
    if text.startswith("/") or sum(char.isalpha() for char in text) < UNSUPPORTED_MIN_LETTERS:
        return False  # a button's payload, a command, a digit, a short word
    if guess.supported:
        return False
    return redflags.analyze(text).risk == "none"


def detected_language(text: str, current: str, guess: langid.Guess) -> str | None:
    """Another supported language the text (identified as ``guess``) is clearly written in."""
    if len(text.split()) < SWITCH_MIN_WORDS:
        return None
    if guess.language in (None, current) or guess.confidence < SWITCH_MIN_CONFIDENCE:
        return None
    return guess.language


# Whether another inbound message of the same conversation waits behind the one read with it.
_LATER = aliased(Message)
_MORE_PENDING = (
    exists()
    .where(
        _LATER.conversation_id == Message.conversation_id,
        _LATER.direction == "in",
        _LATER.status == RECEIVED,
        _LATER.id > Message.id,
    )
    .correlate(Message)
    .label("more_pending")
)
# Whether the helpline has answered the conversation of the message read with it before.
_ANSWER = aliased(Message)
_WRITTEN_BEFORE = (
    exists()
    .where(_ANSWER.conversation_id == Conversation.id, _ANSWER.direction == "out")
    .correlate(Conversation)
    .label("written_before")
)


# Built once: SQLAlchemy then finds each compiled statement without building it anew.
# The oldest unhandled message of a conversation, with its conversation and contact.
_NEXT_PENDING = (
    select(Message, Conversation, Contact, _MORE_PENDING)
    .join(Conversation, Message.conversation_id == Conversation.id)
    .join(Contact, Conversation.contact_id == Contact.id)
    .where(
        Message.conversation_id == bindparam("conversation_id"),
        Message.direction == "in",
        Message.status == RECEIVED,
    )
    .order_by(Message.id)
    .limit(1)
)
# A message being applied, with its conversation and contact (the outbox reads the
# contact through the conversation) and whether the helpline has answered before.
_TO_APPLY = (
    select(Message, Conversation, Contact, _WRITTEN_BEFORE)
    .join(Conversation, Message.conversation_id == Conversation.id)
    .join(Contact, Conversation.contact_id == Contact.id)
    .where(Message.id == bindparam("message_id"))
)


class Worker:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_CONVERSATIONS)
        self._failures: dict[int, int] = {}
        # Conversations a task of this process handles, and whether they were woken since.
        self._active: dict[int, bool] = {}
        # When each conversation waiting out a failure is due again (time.monotonic()).
        self._retry_at: dict[int, float] = {}
        self.running = False

    async def run(self) -> None:
        """Consume wake-ups until cancelled."""
        self.running = True
        sweeper = asyncio.create_task(self._sweep_forever())
        retainer = asyncio.create_task(self._retention_forever())
        try:
            while True:
                try:
                    conversation_id, receipt = await self.state.queue.get()
                except Exception as error:
                    # Redis away or restarted: the inbox keeps every message; wait and read again.
                    log.warning("queue unavailable (%s); reading again shortly", describe(error))
                    await asyncio.sleep(QUEUE_RETRY_SECONDS)
                    continue
                await self._limit.acquire()
                task = asyncio.create_task(self._handle_wakeup(conversation_id, receipt))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self.running = False
            sweeper.cancel()
            retainer.cancel()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sweeper, retainer, *self._tasks, return_exceptions=True)

    async def _handle_wakeup(self, conversation_id: int, receipt: str | None) -> None:
        try:
            await self.handle_conversation(conversation_id)
        except Exception as error:
            # The database or Redis away, or a bug: the message stays received and is retried.
            self._schedule_retry(conversation_id, describe(error))
        finally:
            self._limit.release()
        with contextlib.suppress(Exception):
            # An unacknowledged wake-up is claimed again later; the inbox is the truth anyway.
            await self.state.queue.ack(receipt)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:
                log.warning("sweep failed (%s); next in %.0fs", describe(error), SWEEP_SECONDS)
            await asyncio.sleep(SWEEP_SECONDS)

    async def _retention_forever(self) -> None:
        """Erase what passed the retention period, now and every hour."""
        while True:
            try:
                await retention.run(
                    self.state.db,
                    self.state.trackers,
                    self.state.queue,
                    self.state.settings.retention_days,
                )
            except Exception:
                log.exception("retention run failed; it runs again in an hour")
            await asyncio.sleep(retention.INTERVAL_SECONDS)

    async def sweep(self) -> None:
        """Wake every conversation with pending inbound work and resend queued outbound rows."""

        def pending() -> tuple[list[int], list[int]]:
            with self.state.db.session() as session:
                conversations = list(
                    session.scalars(
                        select(Message.conversation_id).where(Message.status == RECEIVED).distinct()
                    )
                )
                return conversations, outbox.deliverable(session)

        await outbox.recover(self.state)
        conversations, queued = await asyncio.to_thread(pending)
        await asyncio.to_thread(self.sweep_deadlines)
        now = time.monotonic()
        for conversation_id in conversations:
            # One waiting out a failure is woken by its retry (or here, should that be lost).
            if self._retry_at.get(conversation_id, 0.0) <= now:
                await self.state.queue.put(conversation_id)
        await outbox.deliver_all(self.state, queued)

    def sweep_deadlines(self) -> int:
        """Alert supervisors of first responses newly overdue; returns how many."""
        with self.state.db.session() as session:
            missed = cases.sweep_deadlines(session)
            late = referrals.sweep_overdue(session)
        for referral in late:
            log.warning("referral %s: overdue; its case %s flagged", referral.id, referral.case_id)
        for alert in missed:
            log.warning(
                "case %s: first-response deadline missed; organisation %s alerted",
                alert.case_id,
                alert.organisation_id,
            )
        return len(missed)

    async def handle_conversation(self, conversation_id: int) -> None:
        if conversation_id in self._active:
            # This process is on it already: it reads the conversation again before it
            # lets go, rather than a second task waiting for the lock (and polling Redis).
            self._active[conversation_id] = True
            return
        self._active[conversation_id] = False
        try:
            async with self.state.queue.lock(conversation_id):
                # Whether to read the conversation again: after a message, only when it
                # had another pending behind it or is still pending itself (a message
                # stored since wakes the conversation, which sets ``_active``).
                look = True
                while True:
                    snapshot = None
                    if look:
                        snapshot = await asyncio.to_thread(self._next_pending, conversation_id)
                    if snapshot is None:
                        # Woken meanwhile: look again. Otherwise let go before the lock is
                        # released, so that a later wake-up takes the lock itself.
                        if self._active.pop(conversation_id):
                            self._active[conversation_id] = False
                            look = True
                            continue
                        return
                    try:
                        # A handler stuck on a dead connection must not hold the
                        # conversation's lock (which it keeps renewing) for ever.
                        async with asyncio.timeout(MESSAGE_SECONDS):
                            settled = await self.process(snapshot)
                    except RasaUnavailable as error:
                        self._schedule_retry(conversation_id, error.reason)
                        return
                    self._failures.pop(conversation_id, None)
                    self._retry_at.pop(conversation_id, None)
                    look = snapshot["more"] or not settled
        finally:
            self._active.pop(conversation_id, None)

    def _schedule_retry(self, conversation_id: int, reason: str) -> None:
        # The count stays until a message gets through, so that the waits grow.
        failures = self._failures.get(conversation_id, 0)
        self._failures[conversation_id] = failures + 1
        delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
        self._retry_at[conversation_id] = time.monotonic() + delay
        log.warning("conversation %s: %s; retrying in %.0fs", conversation_id, reason, delay)

        async def later() -> None:
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):  # Redis away: the sweep wakes it instead
                await self.state.queue.put(conversation_id)

        task = asyncio.create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_pending(self, conversation_id: int) -> dict[str, Any] | None:
        """The snapshot of the conversation's oldest unhandled message, in one transaction."""
        with self.state.db.session() as session:
            row = session.execute(_NEXT_PENDING, {"conversation_id": conversation_id}).first()
            if row is None:
                return None
            message, conversation, contact, more = row
            return self._snapshot(message, conversation, contact) | {"more": bool(more)}

    async def process(self, snapshot: dict[str, Any]) -> bool:
        """Handle one inbound message; idempotent once it is marked done.

        Returns False when the message is left pending, to be read again at once (its
        case closed meanwhile: the bot answers it).
        """
        message_id = snapshot["message_id"]
        if self.state.keywords.is_safe_word(snapshot["text"]):
            await self._safe_word(message_id, snapshot)
            return True
        if cases.parse_rating(snapshot["text"]) is not None:
            thanks = await asyncio.to_thread(self._rating, message_id)
            if thanks is not None:
                await outbox.deliver_all(self.state, thanks)
                return True
        turn = Turn()
        if snapshot["mode"] == "human":
            # The bot is silent while a case is open, except to erase the chat.
            if snapshot["erase_pending"]:
                turn.erase_requested = False
            elif self._asks_to_erase(snapshot["text"]):
                turn.erase_requested = True
            else:
                return await asyncio.to_thread(self._to_case, message_id)
        language = snapshot["language"]
        if snapshot["chosen_language"] not in (None, language):
            language = snapshot["chosen_language"]
            turn.controls.append({"set_language": language})
        if snapshot["limited"] and not self._asks_to_erase(snapshot["text"]):
            # Over the sender's limit: kept, not read by the bot; told once per minute.
            if snapshot["limited"] == RATE_LIMITED_FIRST:
                turn.parts.append(Outgoing(_(language, TOO_FAST), (), language))
        elif snapshot["text"]:
            # Identified once for both questions: it is the costliest step before Rasa.
            guess = langid.identify(snapshot["text"])
            written_in = detected_language(snapshot["text"], language, guess)
            if written_in is not None:
                turn.controls.append({"set_language": written_in})
                language = written_in
            if in_unsupported_language(self._bot_text(snapshot), guess):
                menu = self.state.nlg.render(
                    "utter_choose_language",
                    language=language,
                    channel=snapshot["channel"],
                    country=snapshot["country"],
                )
                choices = tuple(Choice(b["title"], b["payload"]) for b in menu.buttons)
                turn.parts.append(Outgoing(menu.text, choices, menu.language))
            else:
                for reply in await self._ask_rasa(snapshot, message_id, language):
                    control = (reply.get("custom") or {}).get("helpline")
                    if isinstance(control, dict):
                        turn.controls.append(control)
                        language = normalise(control.get("set_language")) or language
                    elif reply.get("text"):
                        choices = tuple(
                            Choice(str(b.get("title", "")), str(b.get("payload", "")))
                            for b in reply.get("buttons") or []
                        )
                        turn.parts.append(Outgoing(reply["text"], choices, language))
        elif snapshot["has_media"]:
            text = _(
                language,
                "I can only read written messages. Please write your question in words. "
                'To talk to a person, write "person".',
            )
            turn.parts.append(Outgoing(text, (), language))
        outbound = await asyncio.to_thread(self._apply, message_id, turn)
        await outbox.deliver_all(self.state, outbound)
        if any("erase" in control for control in turn.controls):
            # After the confirmation went out: it is erased with everything else.
            await erasure.erase(self.state, snapshot["conversation_id"])
        return True

    def _asks_to_erase(self, text: str) -> bool:
        return text == ERASE_PAYLOAD or self.state.keywords.is_erase(text)

    async def _safe_word(self, message_id: int, snapshot: dict[str, Any]) -> None:
        """An innocuous answer, and Rasa forgets where the conversation was."""
        language = snapshot["language"]
        turn = Turn(parts=[Outgoing(_(language, INNOCUOUS), (), language)], safe_word=True)
        outbound = await asyncio.to_thread(self._apply, message_id, turn)
        await outbox.deliver_all(self.state, outbound)
        try:
            await self.state.trackers.delete([snapshot["pseudonym"]])
        except Exception as error:
            log.error(
                "conversation %s: Rasa's tracker not reset after a safe word (%s)",
                snapshot["conversation_id"],
                type(error).__name__,
            )

    async def _ask_rasa(
        self, snapshot: dict[str, Any], message_id: int, language: str
    ) -> list[dict[str, Any]]:
        """Rasa's answer to the message, asked once however often the worker is interrupted.

        The message id travels in the metadata. When an earlier attempt may have
        reached Rasa (the worker died, or the database failed, between Rasa's answer
        and the commit), the answer is read back from the tracker instead of
        sending the message again, which would make Rasa hear it twice (a second
        "no" would answer the next question of a screening).
        """
        pseudonym = snapshot["pseudonym"]
        if snapshot["attempts"] > 0:
            answered = await self.state.rasa.answer_of(pseudonym, message_id)
            if answered is not None:
                log.info("message %s: Rasa had answered it; its answer is reused", message_id)
                return answered
        replies = await self.state.rasa.send(
            pseudonym,
            self._bot_text(snapshot),
            {
                "channel": snapshot["channel"],
                "language": language,
                "country": snapshot["country"],
                "message_id": message_id,
            },
        )
        if replies:
            return replies
        # Rasa's REST channel answers 200 with nothing when handling failed (its lock or
        # tracker store unreachable): only the tracker tells that from a turn without words.
        recorded = await self.state.rasa.answer_of(pseudonym, message_id)
        if recorded is None:
            raise RasaUnavailable("Rasa answered nothing and did not record the message")
        return recorded

    def _bot_text(self, snapshot: dict[str, Any]) -> str:
        """What Rasa reads: a numbered reply or a button's key as the payload it stands for."""
        if self.state.keywords.is_erase(snapshot["text"]):
            return ERASE_PAYLOAD
        channel = self.state.channels.get(snapshot["channel"])
        menu = tuple(Choice(str(c["title"]), str(c["payload"])) for c in snapshot["menu"])
        text: str = channel.interpret(snapshot["text"], menu) if channel else snapshot["text"]
        return mask_numbers(text[:MAX_BOT_TEXT])

    @staticmethod
    def _snapshot(message: Message, conversation: Conversation, contact: Contact) -> dict[str, Any]:
        """What handling the message needs, read while its rows are at hand."""
        payload = json.loads(message.payload) if message.payload else {}
        # Counted before Rasa is asked: a later attempt knows an earlier one may have reached it.
        attempts = message.attempts
        message.attempts = attempts + 1
        return {
            "message_id": message.id,
            "attempts": attempts,
            "conversation_id": conversation.id,
            "mode": conversation.mode,
            "language": conversation.language,
            "country": conversation.country,
            "channel": contact.channel,
            "pseudonym": contact.pseudonym,
            "text": (message.body or "").strip(),
            "has_media": bool(payload.get("media")),
            "chosen_language": normalise(payload.get("language")),
            "menu": conversation.last_menu or [],
            "limited": message.error
            if message.error in (RATE_LIMITED, RATE_LIMITED_FIRST)
            else None,
            "erase_pending": conversation.erase_requested_at is not None
            and utcnow() - conversation.erase_requested_at < ERASE_CONFIRMATION_WINDOW,
        }

    def _to_case(self, message_id: int) -> bool:
        """The message joins its open case; False when the case closed meanwhile."""
        with self.state.db.session() as session:
            message = session.get(Message, message_id)
            if message is None or message.status != RECEIVED:
                return True
            case = cases.open_case_of(session, message.conversation_id)
            if case is not None:
                cases.add_person_message(session, case, message)
                # The bot is silent, but red flags still raise the case's risk.
                analysis = redflags.analyze(message.body or "")
                if analysis.indicators:
                    cases.flag(
                        session,
                        case,
                        analysis.risk,
                        [i.to_dict() for i in analysis.indicators],
                        deadlines=self.state.settings.first_response_minutes,
                    )
            else:  # the case closed between the snapshot and now: the bot takes it next time
                session.get(Conversation, message.conversation_id).mode = "bot"  # type: ignore[union-attr]
                return False
            message.status = DONE
            message.processed_at = utcnow()
            return True

    def _rating(self, message_id: int) -> list[int] | None:
        """A reply to the rating question is recorded on its case; Rasa never sees it."""
        with self.state.db.session() as session:
            message = session.get(Message, message_id)
            if message is None or message.status != RECEIVED:
                return None
            thanks = closing.rating_reply(self.state, session, message)
            if thanks is not None:
                message.status = DONE
                message.processed_at = utcnow()
            return thanks

    def _apply(self, message_id: int, turn: Turn) -> list[int]:
        """Controls, outbox rows and the inbound row's status, in one transaction.

        Returns what to send now: this turn's parts, after any an earlier turn left queued.
        """
        with self.state.db.session() as session:
            row = session.execute(_TO_APPLY, {"message_id": message_id}).first()
            if row is None or row[0].status != RECEIVED:
                return []
            message, conversation, _contact, written_before = row
            channel = self.state.channels.get(message.channel)
            rendered = [
                p for part in turn.parts for p in (channel.render(part) if channel else [part])
            ]
            for control in turn.controls:
                self._control(session, conversation, message, control)
            if turn.erase_requested is not None:
                conversation.erase_requested_at = utcnow() if turn.erase_requested else None
            if turn.safe_word:
                cases.record_safe_word(session, conversation.id)
            elif rendered and not written_before:
                notice = self._first_answer_notice(channel, turn)
                # After an emergency answer, which must come first; otherwise before the
                # answer, so that a menu stays the last thing the person reads.
                rendered = rendered + notice if _emergency(turn) else notice + rendered
            outbox.queue_outgoing(session, conversation, rendered, author="bot")
            message.status = DONE
            message.processed_at = utcnow()
            return outbox.deliverable(session, conversation.id)

    def _first_answer_notice(self, channel: Any, turn: Turn) -> list[Outgoing]:
        """That the chat is confidential and how to erase it, unless the answer says so."""
        language = turn.parts[-1].language
        word = self.state.keywords.erase_word(language)
        if any(f"{word}" in part.text for part in turn.parts):
            return []
        notice = Outgoing(_(language, FIRST_ANSWER_NOTICE, word=word), (), language)
        return list(channel.render(notice)) if channel else [notice]

    def _control(
        self, session: Any, conversation: Conversation, message: Message, control: dict[str, Any]
    ) -> None:
        if language := normalise(control.get("set_language")):
            conversation.language = language
            session.get(Contact, conversation.contact_id).language = language
        if (request := control.get("open_case")) is not None:
            priority = str(request.get("priority", "request"))
            indicators = request.get("indicators")
            screening = request.get("screening")
            opened = cases.open_case(
                session,
                conversation,
                reason=str(request.get("reason", "request_human"))[:30],
                priority=priority if priority in cases.PRIORITIES else "request",
                channel=message.channel,
                risk=str(request.get("risk", "none")),
                indicators=indicators if isinstance(indicators, list) else [],
                consent=str(request["consent"])[:30] if request.get("consent") else None,
                screening=screening if isinstance(screening, dict) else None,
                deadlines=self.state.settings.first_response_minutes,
            )
            cases.add_person_message(session, opened.case, message)
            log.info(
                "conversation %s: case %s %s",
                conversation.id,
                opened.case.id,
                "opened" if opened.created else "reopened" if opened.reopened else "already open",
            )


def _emergency(turn: Turn) -> bool:
    return any(
        isinstance(c.get("open_case"), dict) and c["open_case"].get("priority") == "emergency"
        for c in turn.controls
    )
