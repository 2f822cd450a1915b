"""Where can I get help? The services directory's answer, for the bot and the dashboard.

The bot's ``utter_faq/services`` is answered from the directory when the person's
country is known and the directory has services there: filtered by country, by the
city and the need the person named in their last messages, and ranked by whether
the service speaks the person's language. The service's name, city and phone number
stay as the directory has them; everything else is the helpline's own text in the
person's language. On SMS the list is cut to fit the segment budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.hsds import NEEDS
from bot.i18n import _
from bot.models import (
    DirectoryLocation,
    DirectoryService,
    DirectoryServiceAtLocation,
)
from bot.redflags.normalize import normalize_text
from channels import sms

NEEDS_FILE = Path(__file__).with_name("directory_needs.yml")
RESPONSE = "utter_faq/services"
# How many services an answer lists: SMS is also held to the content check's budget.
MAX_LISTED = 5
MAX_LISTED_SMS = 3
SMS_SEGMENT_BUDGET = 3
# How many of the person's latest messages may name the need or the city.
MESSAGES_READ = 3


def need_title(language: str, need: str) -> str:
    titles = {
        "shelter": _(language, "Places that offer shelter:"),
        "legal": _(language, "Where to get legal help:"),
        "health": _(language, "Where to get health care:"),
        "labour_complaint": _(language, "Where to make a complaint about work:"),
        "embassy": _(language, "Embassies and consulates that help workers:"),
        "psychosocial": _(language, "Where to find someone to talk to and support:"),
    }
    return titles[need]


@dataclass(frozen=True)
class Match:
    name: str
    city: str | None
    phone: str | None
    speaks_language: bool
    demo: bool


@cache
def _lexicon() -> dict[str, dict[str, tuple[str, ...]]]:
    document = yaml.safe_load(NEEDS_FILE.read_text(encoding="utf-8")) or {}
    lexicon: dict[str, dict[str, tuple[str, ...]]] = {}
    for need, by_language in document.items():
        if need not in NEEDS:
            raise ValueError(f"{NEEDS_FILE.name}: unknown need {need!r}")
        lexicon[need] = {
            language: tuple(normalize_text(str(word)).strip() for word in words)
            for language, words in by_language.items()
        }
    return lexicon


def _find_word(text: str, word: str) -> int:
    """Where ``word`` starts a word of ``text`` (both normalised), or -1."""
    return f" {text}".find(f" {word}")


def detect_need(texts: Iterable[str], language: str) -> str | None:
    """The need named in the most recent message that names one; English words count too."""
    languages = [language] if language == "en" else [language, "en"]
    for text in texts:
        normalised = normalize_text(text)
        found: list[tuple[int, str]] = []
        for need, by_language in _lexicon().items():
            positions = [
                _find_word(normalised, word)
                for code in languages
                for word in by_language.get(code, ())
            ]
            positions = [p for p in positions if p >= 0]
            if positions:
                found.append((min(positions), need))
        if found:
            return min(found)[1]
    return None


def detect_city(texts: Iterable[str], cities: Iterable[str]) -> str | None:
    normalised_cities = {normalize_text(c).strip(): c for c in cities if c}
    for text in texts:
        normalised = normalize_text(text)
        # The longest name first: "Abu Dhabi" before a city called "Abu".
        for key in sorted(normalised_cities, key=len, reverse=True):
            if key and _find_word(normalised, key) >= 0:
                return normalised_cities[key]
    return None


def cities_in(session: Session, country: str) -> list[str]:
    return sorted(
        {
            city
            for city in session.scalars(
                select(DirectoryLocation.city).where(DirectoryLocation.country == country)
            )
            if city
        }
    )


def search(
    session: Session,
    *,
    country: str,
    language: str,
    need: str | None = None,
    city: str | None = None,
    limit: int = MAX_LISTED,
) -> list[tuple[DirectoryService, str | None]]:
    """Active services in the country (and city) for the need, those speaking the language first.

    Each comes with the city where it is found.
    """
    rows = session.execute(
        select(DirectoryService, DirectoryLocation)
        .join(
            DirectoryServiceAtLocation, DirectoryServiceAtLocation.service_id == DirectoryService.id
        )
        .join(DirectoryLocation, DirectoryLocation.id == DirectoryServiceAtLocation.location_id)
        .where(DirectoryService.status == "active", DirectoryLocation.country == country)
        .options(selectinload(DirectoryService.languages), selectinload(DirectoryService.phones))
        .order_by(DirectoryService.id, DirectoryLocation.id)
    ).all()
    ranked: list[tuple[tuple[int, int, int], DirectoryService, str | None]] = []
    seen: set[int] = set()
    for service, location in rows:
        if service.id in seen or (need is not None and need not in service.needs):
            continue
        if city is not None and (location.city or "").casefold() != city.casefold():
            continue
        seen.add(service.id)
        speaks = language in {x.code for x in service.languages}
        # Without a need named, a service that covers several needs is listed first.
        rank = (0 if speaks else 1, 0 if need else -len(service.needs), service.id)
        ranked.append((rank, service, location.city))
    ranked.sort(key=lambda item: item[0])
    return [(service, city_name) for _rank, service, city_name in ranked[:limit]]


def find(
    session: Session,
    *,
    country: str,
    language: str,
    need: str | None = None,
    city: str | None = None,
    limit: int = MAX_LISTED,
) -> list[Match]:
    """What the bot lists: see :func:`search`."""
    return [
        Match(
            name=service.name,
            city=city_name,
            phone=service.phones[0].number if service.phones else None,
            speaks_language=language in {x.code for x in service.languages},
            demo=service.demo,
        )
        for service, city_name in search(
            session, country=country, language=language, need=need, city=city, limit=limit
        )
    ]


def _line(match: Match) -> str:
    place = f" ({match.city})" if match.city else ""
    phone = f": {match.phone}" if match.phone else ""
    return f"- {match.name}{place}{phone}"


def compose(
    language: str,
    matches: list[Match],
    *,
    need: str | None,
    channel: str | None,
) -> str:
    """The answer's text; on SMS, services, then the optional hints, go until it fits."""
    head = need_title(language, need) if need else _(language, "Services that can help you:")
    # Hints an SMS may lose, the least needed first.
    hints: list[str] = []
    if need is None:
        hints.append(
            _(
                language,
                "Tell me what you need: shelter, a lawyer, a doctor, a complaint, "
                "your embassy or someone to talk to.",
            )
        )
    if not all(m.speaks_language for m in matches):
        hints.append(_(language, "Some may not speak your language: ask for an interpreter."))
    ending = [_(language, 'Write "person" to talk to a caseworker.')]
    if any(m.demo for m in matches):
        ending.insert(0, _(language, "Demo data: these services are examples and do not exist."))
    listed = matches[: MAX_LISTED_SMS if channel == "sms" else MAX_LISTED]
    while True:
        text = "\n".join([head, *(_line(m) for m in listed), *reversed(hints), *ending])
        if channel != "sms" or sms.segments(text) <= SMS_SEGMENT_BUDGET:
            return text
        if len(listed) > 1:
            listed = listed[:-1]
        elif hints:
            hints.pop(0)
        else:
            return text


def nothing_found(language: str, need: str | None) -> str:
    if need is None:
        return _(
            language,
            "I do not know of a service near you yet. "
            'A caseworker may know one: write "person" to talk to a caseworker.',
        )
    return "\n".join(
        [
            need_title(language, need),
            _(
                language,
                "I do not know of one near you yet. "
                'A caseworker may know one: write "person" to talk to a caseworker.',
            ),
        ]
    )


def user_texts(tracker: Mapping[str, Any]) -> list[str]:
    """The person's latest messages, newest first, from a Rasa tracker state."""
    texts = [
        str(event.get("text"))
        for event in reversed(tracker.get("events") or [])
        if event.get("event") == "user" and event.get("text")
    ][:MESSAGES_READ]
    latest = (tracker.get("latest_message") or {}).get("text")
    if latest and (not texts or texts[0] != latest):
        texts.insert(0, str(latest))
    # Button payloads ("/faq{...}") say nothing about needs or places.
    return [t for t in texts if not t.startswith("/")]


def answer(
    session: Session,
    *,
    tracker: Mapping[str, Any],
    language: str,
    country: str | None,
    channel: str | None,
) -> str | None:
    """The directory's answer to "where can I get help", or None to use the general text."""
    if not country:
        return None
    country = country.upper()
    cities = cities_in(session, country)
    if not cities and not find(session, country=country, language=language, limit=1):
        return None
    texts = user_texts(tracker)
    need = detect_need(texts, language)
    city = detect_city(texts, cities)
    matches = find(session, country=country, language=language, need=need, city=city)
    if not matches and city is not None:
        # Nothing in the city: the rest of the country is better than nothing.
        matches = find(session, country=country, language=language, need=need)
    if not matches:
        return nothing_found(language, need)
    return compose(language, matches, need=need, channel=channel)
