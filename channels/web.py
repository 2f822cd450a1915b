"""The local chat simulator: a page at ``/`` where one types as a migrant would.

It goes through the same inbox, worker, Rasa, NLG and outbox path as the providers;
its "provider" is the helpline's own database, which the page polls.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter, Cookie, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot.inbox import accept, find_contact
from bot.languages import NATIVE_NAMES, direction
from bot.models import Conversation, Message
from channels.base import Channel, Inbound, Limits, Outgoing

COOKIE = "helpline_simulator"
MAX_TEXT = 4096
TEMPLATES = Path(__file__).resolve().parent.parent / "bot" / "templates"


class SimulatorMessage(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    language: str | None = Field(default=None, max_length=8)


class WebChannel(Channel):
    name = "web"
    limits: ClassVar[Limits] = Limits(max_chars=4096, supports_buttons=True)

    @property
    def delivers_on_send(self) -> bool:
        return True

    async def send(self, address: str, message: Outgoing) -> str | None:
        # The page reads outbound rows from the database; storing them was the sending.
        return None

    async def find_sent(self, address: str, message: Outgoing, since: datetime) -> str | None:
        return ""

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        state = self.state

        @router.get("/", response_class=HTMLResponse)
        def page() -> HTMLResponse:
            html = (TEMPLATES / "simulator.html").read_text(encoding="utf-8")
            languages = json.dumps(NATIVE_NAMES, ensure_ascii=False)
            return HTMLResponse(html.replace("__LANGUAGES__", languages))

        @router.post("/simulator/messages", status_code=202)
        async def post_message(
            body: SimulatorMessage,
            response: Response,
            helpline_simulator: str | None = Cookie(default=None),
        ) -> dict[str, Any]:
            session_id = helpline_simulator or secrets.token_urlsafe(16)
            response.set_cookie(COOKIE, session_id, httponly=True, samesite="strict")
            inbound = Inbound(
                channel=self.name,
                address=f"simulator:{session_id}",
                provider_id=f"sim-{secrets.token_hex(8)}",
                text=body.text,
                language_hint=body.language,
            )

            def store() -> tuple[int, int]:
                with state.db.session() as session:
                    accepted = accept(session, inbound)
                    return accepted.message_id, accepted.conversation_id

            import asyncio

            message_id, conversation_id = await asyncio.to_thread(store)
            await state.queue.put(conversation_id)
            return {"id": message_id}

        @router.get("/simulator/messages")
        def get_messages(
            request: Request, after: int = 0, helpline_simulator: str | None = Cookie(default=None)
        ) -> dict[str, Any]:
            if not helpline_simulator:
                return {"messages": [], "mode": "bot"}
            with state.db.session() as session:
                contact = find_contact(session, self.name, f"simulator:{helpline_simulator}")
                if contact is None:
                    return {"messages": [], "mode": "bot"}
                conversation = session.scalar(
                    select(Conversation).where(Conversation.contact_id == contact.id)
                )
                if conversation is None:
                    raise HTTPException(404)
                rows = session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation.id, Message.id > after)
                    .order_by(Message.id)
                )
                messages = [
                    {
                        "id": m.id,
                        "direction": m.direction,
                        "author": m.author,
                        "text": m.body,
                        "choices": json.loads(m.payload).get("choices", [])
                        if m.payload and m.direction == "out"
                        else [],
                        "status": m.status,
                    }
                    for m in rows
                ]
                return {
                    "messages": messages,
                    "mode": conversation.mode,
                    "language": conversation.language,
                    "dir": direction(conversation.language),
                }

        return router
