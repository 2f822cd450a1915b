"""The adapter contract every channel implements.

An adapter turns a provider's inbound request into an ``Inbound`` message, renders
the bot's or a caseworker's answer for its medium (``render``) and sends it
(``send``). What differs between channels is declared as data in ``Limits``; the
router, the referral queue and the actions never import a concrete channel.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

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


@dataclass(frozen=True)
class Media:
    kind: str  # image, audio, video, document, location, sticker, other
    content_type: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Inbound:
    """A person's message, normalised; ``address`` is the channel address (never logged)."""

    channel: str
    address: str
    provider_id: str
    text: str | None
    media: tuple[Media, ...] = ()
    language_hint: str | None = None
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


SENTENCE_END = re.compile(r"(?<=[.!?።۔؟।])(\s+)")


def split_text(text: str, max_chars: int) -> list[str]:
    """Split at sentence boundaries, then at spaces, so that no part exceeds ``max_chars``.

    Within a part, sentences keep the whitespace that separated them (the line breaks
    of a numbered menu or of paragraphs).
    """
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    current = ""
    for separator, piece in _pieces(text, max_chars):
        candidate = f"{current}{separator}{piece}" if current else piece
        if len(candidate) <= max_chars:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, max_chars: int) -> list[tuple[str, str]]:
    """(whitespace before it, piece) for each sentence, long sentences cut at spaces."""
    chunks = SENTENCE_END.split(text)
    pieces: list[tuple[str, str]] = []
    for separator, sentence in zip(["", *chunks[1::2]], chunks[0::2], strict=True):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            pieces.append((separator, sentence[:cut].strip()))
            separator = " "
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append((separator, sentence))
    return pieces


class Channel(ABC):
    """Base adapter: text-only sending with choices degraded to a numbered menu."""

    name: ClassVar[str]
    limits: ClassVar[Limits]

    def __init__(self, state: AppState) -> None:
        self.state = state

    def router(self) -> APIRouter | None:
        """Webhook routes of this channel, mounted by the application."""
        return None

    def render(self, message: Outgoing) -> list[Outgoing]:
        """Parts ready to send; choices become numbered lines where buttons are not supported."""
        text = message.text
        choices = message.choices
        if choices and not self.limits.supports_buttons:
            menu = "\n".join(f"{n}. {c.title}" for n, c in enumerate(choices, start=1))
            text = f"{text}\n\n{menu}"
            choices = ()
        parts = split_text(text, self.limits.max_chars)
        return [
            Outgoing(part, choices if last else (), message.language)
            for last, part in ((i == len(parts) - 1, p) for i, p in enumerate(parts))
        ]

    @abstractmethod
    async def send(self, address: str, message: Outgoing) -> str | None:
        """Send one rendered part; returns the provider's message id when there is one."""

    @property
    def delivers_on_send(self) -> bool:
        """True when a successful send means the person has it (no status callbacks)."""
        return False
