"""What the person hears when their case closes, and their rating of it.

Closing returns the conversation to the bot with a closing message in the person's
language, and asks, once per case, for a rating from 1 to 5. Both go out only inside the
reply window (WhatsApp's 24 hours, and the helpline's own on every channel, counted from
the person's last message); the worker reads a
reply "1" to "5" as that rating (``rating_reply``) instead of passing it to Rasa.
The API and the dashboard both close through ``close_case``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import cases, outbox
from bot.app_state import AppState
from bot.i18n import _
from bot.models import Case, Conversation, Message, User
from channels.base import Outgoing

# A person who stopped answering is not written to again for a rating: their silence may
# mean someone else holds their phone.
NOT_ASKED = frozenset({"no_response", "erased"})


@dataclass(frozen=True)
class Closed:
    case: Case
    # Outbound rows queued for the person, to deliver after the transaction commits.
    outbound: list[int]


def rating_question(language: str) -> str:
    return _(
        language,
        "How much did we help you? Reply with a number from 1 (not at all) to 5 (very much).",
    )


def rating_thanks(language: str) -> str:
    return _(language, "Thank you for your answer. It helps us help others.")


def _queue(
    state: AppState, session: Session, conversation: Conversation, texts: list[Outgoing], case: Case
) -> list[int]:
    channel = state.channels.get(case.channel)
    parts = [p for text in texts for p in (channel.render(text) if channel else [text])]
    return outbox.queue_outgoing(session, conversation, parts, author="bot", case_id=case.id)


def close_case(state: AppState, session: Session, user: User, case_id: int, outcome: str) -> Closed:
    """Close the case, tell the person, and ask for their rating when the channel allows.

    After the person's safe word nothing is sent: someone may be watching their phone.
    """
    case = cases.close(session, user, case_id, outcome)
    if cases.silenced(session, case):
        return Closed(case, [])
    conversation = case.conversation
    channel = state.channels.get(case.channel)
    if channel is not None and outbox.reply_window_closed(
        channel, conversation.last_inbound_at, state.settings.reply_window_hours
    ):
        # The person last wrote too long ago: not even the goodbye goes out unprompted.
        return Closed(case, [])
    rendered = state.nlg.render(
        "utter_case_closed",
        language=conversation.language,
        country=conversation.country,
        channel=case.channel,
    )
    texts = [Outgoing(rendered.text, (), rendered.language)]
    if channel is not None and outcome not in NOT_ASKED and cases.ask_rating(session, case):
        language = conversation.language
        texts.append(Outgoing(rating_question(language), (), language))
    return Closed(case, _queue(state, session, conversation, texts, case))


def rating_reply(state: AppState, session: Session, message: Message) -> list[int] | None:
    """Record ``message`` as the rating it answers and queue the thanks; None if it is not one."""
    case = cases.record_rating(session, message)
    if case is None:
        return None
    conversation = case.conversation
    language = conversation.language
    return _queue(
        state, session, conversation, [Outgoing(rating_thanks(language), (), language)], case
    )
