"""Canned replies a caseworker can start from, in the person's language.

The English texts are gettext messages with the context ``canned_reply`` (extracted by
``make i18n-extract``); their translations live in ``locales/`` like every other text.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogs

CONTEXT = "canned_reply"


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a message for extraction; translated later, in the person's language."""
    return context, message


# (short label for the caseworker, message)
CANNED: tuple[tuple[str, tuple[str, str]], ...] = (
    (
        "Introduce yourself",
        pgettext(
            "canned_reply",
            "Hello, I am a caseworker. I have read your messages and I am here to help you.",
        ),
    ),
    ("Are you safe?", pgettext("canned_reply", "Are you safe where you are right now?")),
    (
        "Where are you?",
        pgettext(
            "canned_reply",
            "In which city or area are you now? Tell me only if it is safe for you.",
        ),
    ),
    (
        "Documents",
        pgettext("canned_reply", "Do you have your passport or identity card with you?"),
    ),
    (
        "Ask to refer",
        pgettext(
            "canned_reply",
            "An organisation near you can help. May I share your situation with them?",
        ),
    ),
    (
        "Emergency",
        pgettext(
            "canned_reply",
            "If you are in danger now, call the emergency number of the country you are in.",
        ),
    ),
    (
        "Closing",
        pgettext(
            "canned_reply",
            "Thank you for writing to us. You can write again at any time.",
        ),
    ),
)


@dataclass(frozen=True)
class CannedReply:
    label: str
    text: str
    language: str
    fuzzy: bool


def canned_replies(catalogs: Catalogs, language: str) -> list[CannedReply]:
    """Every canned reply in ``language``, or in English where it has no translation."""
    replies = []
    for label, (context, message) in CANNED:
        translation = catalogs.translate(language, message, context)
        replies.append(
            CannedReply(label, translation.text, translation.language, translation.fuzzy)
        )
    return replies
