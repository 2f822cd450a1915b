"""What an editor needs to see: each rights topic and the state of its translations."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Variant
from bot.i18n import Catalogs
from bot.languages import FALLBACK, SUPPORTED

FAQ_PREFIX = "utter_faq/"
# The state of one text in one language.
SOURCE = "source"
REVIEWED = "reviewed"
UNREVIEWED = "unreviewed"
MISSING = "missing"


@dataclass(frozen=True)
class TopicStatus:
    topic: str
    text: str
    states: dict[str, str]


def translation_state(catalogs: Catalogs, language: str, context: str, text: str) -> str:
    if language == FALLBACK:
        return SOURCE
    translation = catalogs.translate(language, text, context)
    if translation.language != language:
        return MISSING
    return UNREVIEWED if translation.fuzzy else REVIEWED


def content_status(responses: dict[str, list[Variant]], catalogs: Catalogs) -> list[TopicStatus]:
    """Every rights topic (``utter_faq/<topic>``), its English text and its state per language."""
    topics = []
    for response, variants in sorted(responses.items()):
        if not response.startswith(FAQ_PREFIX):
            continue
        general = next(
            (v for v in variants if v.channel is None and v.country is None), variants[0]
        )
        topics.append(
            TopicStatus(
                topic=response.removeprefix(FAQ_PREFIX),
                text=general.text,
                states={
                    language: translation_state(catalogs, language, general.context, general.text)
                    for language in SUPPORTED
                },
            )
        )
    return topics
