"""``POST /nlg``: Rasa's NLG endpoint, answered from the gettext catalogues."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import directory
from bot.errors import ContentMissing, describe
from bot.models import Contact, Conversation
from bot.nlg import Rendered, named_language, request_context

log = logging.getLogger(__name__)
router = APIRouter(tags=["nlg"])


@router.post("/nlg")
async def nlg(request: Request, token: str = Query(default="")) -> dict[str, Any]:
    state = request.app.state.helpline
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if not secrets.compare_digest(token.encode(), state.settings.rasa_token.reveal().encode()):
        raise HTTPException(status_code=403, detail="invalid token")
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("response"), str):
        raise HTTPException(status_code=422, detail="expected Rasa's NLG request body")
    sender = (body.get("tracker") or {}).get("sender_id")
    known = None
    # The helpline names the language in every message's metadata: the database is only
    # asked for messages that come without (e.g. Rasa's reminders). Rasa drops an
    # utterance whose NLG call fails, so the database being away must not fail it.
    if sender and not named_language(body):
        try:
            known = await asyncio.to_thread(_conversation_language, state, sender)
        except SQLAlchemyError as error:
            log.warning("NLG without the database (%s)", describe(error))
    if body["response"] == directory.RESPONSE:
        try:
            found = await asyncio.to_thread(_directory_answer, state, body, known)
        except SQLAlchemyError as error:
            log.warning("NLG: services directory unavailable (%s)", describe(error))
            found = None
        if found is not None:
            return found.as_rasa()
    try:
        return state.nlg.for_rasa(body, known_language=known).as_rasa()
    except ContentMissing as missing:
        log.error("NLG: %s", missing)
        fallback = dict(body, response="utter_default")
        return state.nlg.for_rasa(fallback, known_language=known).as_rasa()


def _conversation_language(state: Any, pseudonym: str) -> str | None:
    with state.db.session() as session:
        return session.scalar(
            select(Conversation.language).join(Contact).where(Contact.pseudonym == pseudonym)
        )


def _directory_answer(state: Any, body: dict[str, Any], known: str | None) -> Rendered | None:
    """``utter_faq/services`` from the services directory, when it knows the person's country."""
    context = request_context(body, known)
    with state.db.session() as session:
        text = directory.answer(
            session,
            tracker=body.get("tracker") or {},
            language=context.language,
            country=context.country,
            channel=context.channel,
        )
    return Rendered(text=text, language=context.language) if text is not None else None
