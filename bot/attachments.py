"""The attachments of a case's messages, opened by the caseworker working on the case.

A person's voice note or photo stays with its provider: the helpline keeps a
reference (encrypted inside the message's payload) and fetches the file with the
channel's own credentials when the case's caseworker, or a supervisor of its
organisation, opens it. The provider's URL and credentials never leave the helpline;
to anyone else the attachment does not exist. Each opening is on the case's log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import cases
from bot.errors import CaseNotFound, HelplineError, MediaUnavailable, PermissionDenied
from bot.models import Message, User
from channels.base import Fetched, Media

if TYPE_CHECKING:
    from bot.app_state import AppState

# What a browser may show in place; anything else is only ever downloaded.
INLINE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "audio/ogg", "audio/mpeg", "video/mp4"}
)
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/amr": "amr",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "application/pdf": "pdf",
    "text/vcard": "vcf",
}


class AttachmentNotFound(HelplineError):
    """No such attachment, or not one the caller may open."""


@dataclass(frozen=True)
class Found:
    channel: str
    message_id: int
    n: int
    media: Media


def media_of(message: Message) -> list[Media]:
    """The attachments of a stored message, as the channel parsed them."""
    if message.direction != "in" or not message.payload:
        return []
    payload: dict[str, Any] = json.loads(message.payload)
    return [Media(**item) for item in payload.get("media", [])]


def listed(message: Message) -> list[dict[str, Any]]:
    """What a transcript shows of a message's attachments: never a provider URL.

    A location is shown as its coordinates: it has no file to open, and may be what
    a rescue needs.
    """
    return [
        {"n": n, "kind": media.kind, "content_type": media.content_type}
        | ({"location": media.url} if media.kind == "location" else {})
        for n, media in enumerate(media_of(message))
    ]


def find(state: AppState, user_id: int, case_id: int, message_id: int, n: int) -> Found:
    """The attachment, if the user works on the case; the opening goes on the case's log."""
    with state.db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise AttachmentNotFound(f"case {case_id}: no such user")
        try:
            case = cases.get_case(session, user, case_id)
        except (CaseNotFound, PermissionDenied):
            raise AttachmentNotFound(f"case {case_id}: not visible to this user") from None
        if not cases.works_on(case, user):
            raise AttachmentNotFound(f"case {case_id}: not worked on by this user")
        message = session.get(Message, message_id)
        if message is None or message.conversation_id != case.conversation_id:
            raise AttachmentNotFound(f"case {case_id}: no message {message_id}")
        media = media_of(message)
        if not 0 <= n < len(media) or media[n].kind == "location" or not media[n].url:
            raise AttachmentNotFound(f"message {message_id}: no attachment {n} with a file")
        cases.record_attachment_opened(session, user, case, message_id, n)
        return Found(message.channel, message_id, n, media[n])


async def fetch(state: AppState, found: Found) -> Fetched:
    channel = state.channels.get(found.channel)
    if channel is None:
        raise MediaUnavailable(f"{found.channel} is off: its attachments cannot be fetched")
    return await channel.fetch_media(found.media)


def headers(found: Found, fetched: Fetched) -> dict[str, str]:
    """Served as a download unless it is a plain picture, sound or film; never run as a page."""
    kind = fetched.content_type.split(";", 1)[0].strip().lower()
    extension = EXTENSIONS.get(kind, "bin")
    disposition = "inline" if kind in INLINE_TYPES else "attachment"
    return {
        "Content-Disposition": (
            f'{disposition}; filename="message-{found.message_id}-{found.n}.{extension}"'
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
