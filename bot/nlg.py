"""Natural language generation: Rasa response names to text in the person's language.

Serves Rasa's NLG endpoint (``POST /nlg``) and the helpline's own messages
(case closed, media not readable). Picks the most specific variant for the
channel and country, translates it from the catalogues, and tells the person
when the answer falls back to English.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content import BUTTON, Variant, load_responses, response_files
from bot.errors import ContentMissing
from bot.i18n import Catalogs, _
from bot.languages import FALLBACK, NATIVE_NAMES, normalise

log = logging.getLogger(__name__)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
RELOAD_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Rendered:
    text: str
    language: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    fell_back: bool = False

    def as_rasa(self) -> dict[str, Any]:
        """The body Rasa's CallbackNaturalLanguageGenerator expects."""
        return {
            "text": self.text,
            "buttons": self.buttons,
            "image": None,
            "elements": [],
            "attachments": [],
            "custom": {},
        }


def fill(text: str, values: Mapping[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


class NLG:
    def __init__(self, root: Path, catalogs: Catalogs) -> None:
        self.root = root
        self.catalogs = catalogs
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp: tuple[float, ...] = ()
        self._responses: dict[str, list[Variant]] = {}
        self._reload(force=True)

    def _reload(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            stamp = tuple(p.stat().st_mtime for p in response_files(self.root))
            if force or stamp != self._stamp:
                self._responses = load_responses(self.root)
                self._stamp = stamp

    def responses(self) -> dict[str, list[Variant]]:
        self._reload()
        return self._responses

    def choose(self, response: str, channel: str | None, country: str | None) -> Variant:
        variants = self.responses().get(response)
        if not variants:
            raise ContentMissing(response, FALLBACK)

        def score(v: Variant) -> int:
            if (v.channel and v.channel != channel) or (v.country and v.country != country):
                return -1
            return (2 if v.country else 0) + (1 if v.channel else 0)

        best = max(variants, key=score)
        if score(best) < 0:
            raise ContentMissing(response, FALLBACK)
        return best

    def render(
        self,
        response: str,
        *,
        language: str,
        country: str | None = None,
        channel: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Rendered:
        language = normalise(language) or FALLBACK
        variant = self.choose(response, channel, country)
        translation = self.catalogs.translate(language, variant.text, variant.context)
        fell_back = language != FALLBACK and translation.language == FALLBACK
        shown_language = FALLBACK if fell_back else language
        text = fill(translation.text, values or {})
        if fell_back:
            notice = _(
                language,
                "This answer is not yet available in {language}. Here it is in English:",
                language=NATIVE_NAMES[language],
            )
            text = f"{notice}\n{text}"
        buttons = [
            {
                "title": self.catalogs.translate(
                    shown_language, b.title, f"{variant.response}|{BUTTON}"
                ).text,
                "payload": b.payload,
            }
            for b in variant.buttons
        ]
        return Rendered(text=text, language=shown_language, buttons=buttons, fell_back=fell_back)

    def for_rasa(self, request: Mapping[str, Any], known_language: str | None = None) -> Rendered:
        """Answer one Rasa NLG request (see rasa.core.nlg.callback.nlg_request_format)."""
        context = request_context(request, known_language)
        return self.render(
            str(request.get("response")),
            language=context.language,
            country=context.country,
            channel=context.channel,
            values=context.values,
        )


@dataclass(frozen=True)
class RequestContext:
    """Who a Rasa NLG request is for: language, country and channel, and the slot values."""

    language: str
    country: str | None
    channel: str | None
    values: dict[str, Any]


def named_language(request: Mapping[str, Any]) -> str | None:
    """The language a Rasa NLG request names itself (the action's argument, the message's metadata)."""
    arguments = request.get("arguments") or {}
    metadata = ((request.get("tracker") or {}).get("latest_message") or {}).get("metadata") or {}
    return normalise(arguments.get("language")) or normalise(metadata.get("language"))


def request_context(
    request: Mapping[str, Any], known_language: str | None = None
) -> RequestContext:
    """The language, country and channel of a Rasa NLG request, and its slot values."""
    arguments = dict(request.get("arguments") or {})
    tracker = request.get("tracker") or {}
    metadata = (tracker.get("latest_message") or {}).get("metadata") or {}
    slots = tracker.get("slots") or {}
    language = (
        normalise(arguments.get("language"))
        or normalise(metadata.get("language"))
        or normalise(known_language)
        or FALLBACK
    )
    country = arguments.get("country") or metadata.get("country") or slots.get("country")
    channel = metadata.get("channel")
    values = {k: v for k, v in slots.items() if v is not None} | arguments
    return RequestContext(language, country, channel, values)
