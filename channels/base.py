"""The adapter contract every channel implements.

An adapter turns a provider's inbound request into an ``Inbound`` message, renders
the bot's or a caseworker's answer for its medium (``render``) and sends it
(``send``). What differs between channels is declared as data in ``Limits``; the
router, the referral queue and the actions never import a concrete channel.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from bot.errors import MediaUnavailable, OutcomeUnknown
from bot.i18n import _
from channels import sms
from channels.pacing import Pace, Pacer

if TYPE_CHECKING:
    from fastapi import APIRouter

    from bot.app_state import AppState


@dataclass(frozen=True)
class Limits:
    """What a channel can carry."""

    max_chars: int
    supports_buttons: bool
    # Fields of the provider's payload that must never reach a log line.
    redact_fields: tuple[str, ...] = ()
    # How the provider counts ``max_chars`` (characters, UTF-16 code units, ...).
    size: Callable[[str], int] = len
    # SMS: a part may cost at most this many segments (GSM-7 or UCS-2, see channels.sms);
    # it replaces ``max_chars``.
    max_segments: int | None = None
    # Long answers carry "(1/3)" so that parts arriving out of order still read right.
    number_parts: bool = False
    # Button data the provider accepts (Telegram: 64 bytes); longer payloads travel as a key.
    max_payload_bytes: int | None = None
    # Free-form messages are accepted this long after the person's last message (WhatsApp).
    reply_window_hours: int | None = None
    # How fast the provider lets us send, to one person and in all (Telegram).
    pace: Pace | None = None


@dataclass(frozen=True)
class Media:
    kind: str  # image, audio, video, document, location, sticker, other
    content_type: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Fetched:
    """An attachment's content, fetched from its provider."""

    content_type: str
    content: bytes


# The largest attachment fetched (Telegram lets bots download 20 MB).
MAX_MEDIA_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Inbound:
    """A person's message, normalised; ``address`` is the channel address (never logged)."""

    channel: str
    address: str
    provider_id: str
    text: str | None
    media: tuple[Media, ...] = ()
    language_hint: str | None = None
    # A language the person chose outright (a /start deep link): the conversation's from now.
    chosen_language: str | None = None
    # The id of the organisation whose link the person followed: their cases go to it.
    organisation_id: int | None = None
    country_hint: str | None = None


@dataclass(frozen=True)
class Choice:
    title: str
    payload: str


@dataclass(frozen=True)
class Outgoing:
    """One message to send: text and, optionally, choices the person can pick."""

    text: str
    choices: tuple[Choice, ...] = ()
    language: str = "en"
    extra: dict[str, str] = field(default_factory=dict)
    # An approved template's id, sent instead of the text: allowed outside the reply window.
    template: str | None = None


SENTENCE_END = re.compile(r"(?<=[.!?።۔؟।])(\s+)")


def split_text(text: str, max_size: int, size: Callable[[str], int] = len) -> list[str]:
    """Split at sentence boundaries, then at spaces, so that no part exceeds ``max_size``.

    ``size`` measures a string (characters by default); it must add up over
    characters, as character counts, UTF-16 code units and GSM septets do. Within a
    part, sentences keep the whitespace that separated them (the line breaks of a
    numbered menu or of paragraphs).
    """
    if size(text) <= max_size:
        return [text]
    parts: list[str] = []
    current = ""
    for separator, piece in _pieces(text, max_size, size):
        candidate = f"{current}{separator}{piece}" if current else piece
        if size(candidate) <= max_size:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, max_size: int, size: Callable[[str], int]) -> list[tuple[str, str]]:
    """(whitespace before it, piece) for each sentence, long sentences cut at spaces."""
    chunks = SENTENCE_END.split(text)
    pieces: list[tuple[str, str]] = []
    for separator, sentence in zip(["", *chunks[1::2]], chunks[0::2], strict=True):
        while size(sentence) > max_size:
            fits = _longest_prefix(sentence, max_size, size)
            cut = sentence.rfind(" ", 0, fits)
            cut = cut if cut > 0 else fits
            pieces.append((separator, sentence[:cut].strip()))
            separator = " "
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append((separator, sentence))
    return pieces


def _longest_prefix(text: str, max_size: int, size: Callable[[str], int]) -> int:
    """The length of the longest prefix of ``text`` within ``max_size`` (at least one character)."""
    total = 0
    for index, character in enumerate(text):
        total += size(character)
        if total > max_size:
            return max(index, 1)
    return len(text)


def numbered_menu(choices: Sequence[Choice], language: str) -> str:
    return "\n".join(
        _(language, "Reply {number} for {title}", number=number, title=choice.title)
        for number, choice in enumerate(choices, start=1)
    )


def chosen_number(text: str) -> int | None:
    """The number a reply consists of ("2", " 2. ", "٢", "२"), if that is all it is."""
    stripped = text.strip().rstrip(".)").strip()
    if 0 < len(stripped) <= 2 and stripped.isdecimal():
        return int(stripped)
    return None


KEY_PREFIX = "#"


class Channel(ABC):
    """Base adapter: text-only sending with choices degraded to a numbered menu."""

    name: ClassVar[str]
    limits: ClassVar[Limits]

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._pacer = Pacer(self.limits.pace) if self.limits.pace is not None else None

    def router(self) -> APIRouter | None:
        """Webhook routes of this channel, mounted by the application."""
        return None

    def render(self, message: Outgoing) -> list[Outgoing]:
        """Parts ready to send; choices become numbered lines where buttons are not supported.

        The choices travel with the last part either way: as buttons where the channel
        has them, and as the menu that a numbered reply refers to where it has not.
        """
        text = message.text
        if message.choices and not self.limits.supports_buttons:
            text = f"{text}\n\n{numbered_menu(message.choices, message.language)}"
        parts = self.split(text)
        last = len(parts) - 1
        return [
            Outgoing(part, message.choices if i == last else (), message.language)
            for i, part in enumerate(parts)
        ]

    def split(self, text: str) -> list[str]:
        """The text as parts within the channel's limits, numbered "(1/3)" where declared."""
        limits = self.limits
        if limits.max_segments is not None:
            size, budget = sms.sizer(text), sms.part_budget(text, limits.max_segments)
        else:
            size, budget = limits.size, limits.max_chars
        if size(text) <= budget or not limits.number_parts:
            return split_text(text, budget, size)
        for digits in range(1, 4):
            reserve = len(f"({'9' * digits}/{'9' * digits}) ")
            parts = split_text(text, budget - reserve, size)
            if len(str(len(parts))) <= digits:
                break
        return [f"({n}/{len(parts)}) {part}" for n, part in enumerate(parts, start=1)]

    def choice_key(self, payload: str) -> str:
        """What a button carries: its payload, or a short key when the payload is too long."""
        limit = self.limits.max_payload_bytes
        if limit is None or len(payload.encode("utf-8")) <= limit:
            return payload
        return KEY_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]

    def interpret(self, text: str, menu: Sequence[Choice]) -> str:
        """What a reply to ``menu`` (the last choices offered) means: a payload, or the text.

        A button's short key, or, where choices were a numbered menu, the number of one.
        """
        if text.startswith(KEY_PREFIX):
            for choice in menu:
                if self.choice_key(choice.payload) == text:
                    return choice.payload
        number = None if self.limits.supports_buttons else chosen_number(text)
        if number is not None and 1 <= number <= len(menu):
            return menu[number - 1].payload
        return text

    def template(self) -> str | None:
        """The approved template that invites the person to write again, where one is needed.

        Channels with a reply window (WhatsApp) accept only approved templates once it
        has closed; the others never need one.
        """
        return None

    async def pace(self, address: str) -> None:
        """Wait until the provider's rate limits allow another message to ``address``."""
        if self._pacer is not None:
            await self._pacer.wait(address)

    @abstractmethod
    async def send(self, address: str, message: Outgoing) -> str | None:
        """Send one rendered part; returns the provider's message id when there is one."""

    @property
    def delivers_on_send(self) -> bool:
        """True when a successful send means the person has it (no status callbacks)."""
        return False

    async def find_sent(self, address: str, message: Outgoing, since: datetime) -> str | None:
        """Whether the provider has this part, sent to ``address`` after ``since``.

        Asked when a deliverer died between sending and recording (``outbox.recover``):
        the provider's id ("" when it has none) if the provider has the message, None
        if it has not. Raises ``OutcomeUnknown`` when the provider cannot be asked,
        ``DeliveryFailed`` when it cannot be asked now.
        """
        raise OutcomeUnknown(f"{self.name} cannot be asked what it received")

    async def fetch_media(self, media: Media) -> Fetched:
        """An attachment of a person's message, fetched with the channel's credentials.

        The credentials never leave the channel: a caseworker gets the content through
        the helpline, never the provider's URL.
        """
        raise MediaUnavailable(f"{self.name}: attachments cannot be fetched")

    async def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release the provider client's connections."""
