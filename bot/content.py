"""The bot's response texts, as Rasa declares them, and their Babel extractor.

English source texts live where Rasa expects responses: ``domain.yml`` and the
``responses:`` of ``nlu_data/responses/``. Each text becomes a gettext message whose context
names the response (``utter_greet``), narrowed by a channel or country variant
(``utter_faq/wages|country=LB``, ``utter_faq/wages|channel=sms``); button titles use
``<response>|button``. Translations live in ``locales/<lang>/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

BUTTON = "button"


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Variant:
    """One variation of a response: its context key, text and buttons."""

    response: str
    context: str
    text: str
    buttons: tuple[Button, ...] = ()
    channel: str | None = None
    country: str | None = None


def variant_context(response: str, channel: str | None, country: str | None) -> str:
    parts = [response]
    if channel:
        parts.append(f"channel={channel}")
    if country:
        parts.append(f"country={country}")
    return "|".join(parts)


def _country_condition(variation: dict[str, Any]) -> str | None:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "country":
            return str(condition.get("value")).upper()
    return None


def parse_responses(document: dict[str, Any] | None) -> Iterator[Variant]:
    for name, variations in ((document or {}).get("responses") or {}).items():
        for variation in variations or []:
            if "text" not in variation:
                continue
            channel = variation.get("channel")
            country = _country_condition(variation)
            yield Variant(
                response=name,
                context=variant_context(name, channel, country),
                text=str(variation["text"]).strip(),
                buttons=tuple(
                    Button(str(b["title"]), str(b["payload"]))
                    for b in variation.get("buttons") or []
                ),
                channel=channel,
                country=country,
            )


def response_files(root: Path) -> list[Path]:
    """Where responses are declared: domain.yml and nlu_data/responses/ (not the examples)."""
    files = [root / "domain.yml"]
    responses = root / "nlu_data" / "responses"
    if responses.is_dir():
        files.extend(sorted(responses.rglob("*.yml")))
    return [f for f in files if f.is_file()]


def load_responses(root: Path) -> dict[str, list[Variant]]:
    """Every response of the bot, by name, in source (English) form."""
    responses: dict[str, list[Variant]] = {}
    for path in response_files(root):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or "responses" not in document:
            continue
        for variant in parse_responses(document):
            responses.setdefault(variant.response, []).append(variant)
    return responses


def extract_responses(
    fileobj: IO[bytes],
    keywords: Iterable[str],
    comment_tags: Iterable[str],
    options: dict[str, Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Babel extraction method for Rasa YAML files (see babel.cfg)."""
    source = fileobj.read().decode("utf-8")
    document = yaml.safe_load(source)
    if not isinstance(document, dict):
        return
    lines = source.splitlines()

    def line_of(text: str) -> int:
        first = text.strip().splitlines()[0] if text.strip() else ""
        for number, line in enumerate(lines, start=1):
            if first and first in line:
                return number
        return 0

    for variant in parse_responses(document):
        yield line_of(variant.text), "pgettext", (variant.context, variant.text), []
        for button in variant.buttons:
            context = f"{variant.response}|{BUTTON}"
            yield line_of(button.title), "pgettext", (context, button.title), []
