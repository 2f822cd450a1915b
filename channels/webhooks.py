"""What every provider webhook does: read a bounded body, refuse clearly, store, then wake.

A refusal is logged with the reason and never with the request's content; a
message is a row before the provider gets its answer, and a wake-up that cannot be
queued costs only a delay (the worker's sweep finds the row).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import Request, Response
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import BadWebhook, ChannelAuthError, HelplineError
from bot.inbox import Accepted, accept, address_hash
from bot.ratelimit import RATE_LIMITED, RATE_LIMITED_FIRST

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.app_state import AppState
    from channels.base import Inbound

log = logging.getLogger(__name__)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadWebhook(f"body over {limit} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadWebhook(f"body over {limit} bytes", status=413)
    return bytes(body)


def refusal(channel: str, error: HelplineError) -> Response:
    """403 for a failed signature or secret, the error's own status for a bad request."""
    if isinstance(error, ChannelAuthError):
        log.warning("%s webhook refused: %s", channel, error.reason)
        return Response(status_code=403)
    status = error.status if isinstance(error, BadWebhook) else 400
    log.warning("%s webhook: bad request (%s): %s", channel, status, error)
    return Response(status_code=status)


async def store(state: AppState, inbound: Inbound) -> Accepted | None:
    """Store the message and wake its conversation; None when the database is unavailable."""

    # Counted by the keyed hash of the address: the limiter never sees a number.
    verdict = await state.limiter.hit(
        f"sender:{address_hash(inbound.channel, inbound.address)}", state.settings.rate_limit_sender
    )
    limited = None
    if not verdict.allowed:
        limited = RATE_LIMITED_FIRST if verdict.first_refusal else RATE_LIMITED

    def write(session: Session) -> Accepted:
        return accept(session, inbound, rate_limited=limited)

    try:
        accepted = await state.inbox.write(write)
    except SQLAlchemyError as error:
        log.error(
            "%s message %s not stored: %s",
            inbound.channel,
            inbound.provider_id,
            type(error).__name__,
        )
        return None
    try:
        # A repeat wakes too: the first delivery may have stored the row and lost its wake-up.
        await state.queue.put(accepted.conversation_id)
    except Exception as error:
        log.warning(
            "conversation %s: wake-up not queued (%s); the sweep will find the message",
            accepted.conversation_id,
            type(error).__name__,
        )
    log.info(
        "%s message %s %s for conversation %s",
        inbound.channel,
        inbound.provider_id,
        "repeated" if accepted.duplicate else "stored",
        accepted.conversation_id,
    )
    return accepted


def unavailable() -> Response:
    """The database is down: the provider should deliver again later."""
    return Response(status_code=503, headers={"Retry-After": "5"})
