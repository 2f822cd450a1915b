"""Erasing a person: their messages, their address and their Rasa tracker.

Rasa's HTTP API cannot delete a tracker (see bot.tracker_store), so the tracker is
deleted in Rasa's tracker store itself.

The conversation row stays, detached from any address, so that a case it had is
closed as ``erased`` and its caseworker sees why; nothing the person wrote remains.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot import cases
from bot.app_state import AppState
from bot.inbox import ERASED_PREFIX, new_pseudonym
from bot.models import Case, CaseEvent, Contact, Conversation, Message, Referral

log = logging.getLogger(__name__)


def erase_in_database(session: Session, conversation_id: int) -> str | None:
    """Erase everything the person wrote; returns the pseudonym Rasa knew them by."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    contact = session.get(Contact, conversation.contact_id)
    assert contact is not None
    old_pseudonym = contact.pseudonym
    case_ids = list(session.scalars(select(Case.id).where(Case.conversation_id == conversation_id)))
    session.execute(
        update(Message).where(Message.conversation_id == conversation_id).values(case_id=None)
    )
    session.execute(delete(Message).where(Message.conversation_id == conversation_id))
    if case_ids:
        # Notes may quote the person; keep only the timeline's shape.
        session.execute(update(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).values(text=None))
        # What the caseworkers wrote about them in referrals goes too; the statuses stay.
        session.execute(
            update(Referral)
            .where(Referral.case_id.in_(case_ids))
            .values(summary=None, response_note=None)
        )
    open_case = cases.open_case_of(session, conversation_id)
    if open_case is not None:
        cases.close_erased(session, open_case)
    contact.address = ""
    contact.address_hash = ERASED_PREFIX + secrets.token_hex(16)
    contact.pseudonym = new_pseudonym()
    contact.unreachable = True
    conversation.mode = "bot"
    return old_pseudonym


async def erase(state: AppState, conversation_id: int) -> None:
    def run() -> str | None:
        with state.db.session() as session:
            return erase_in_database(session, conversation_id)

    pseudonym = await asyncio.to_thread(run)
    if pseudonym is None:
        return
    try:
        await state.trackers.delete([pseudonym])
    except Exception as error:
        # The pseudonym belongs to nobody any more; the tracker ages out with retention.
        log.error(
            "conversation %s: erased here but Rasa's tracker was not deleted (%s); "
            "it is deleted when it passes the retention period",
            conversation_id,
            type(error).__name__,
        )
