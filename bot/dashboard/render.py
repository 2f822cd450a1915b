"""The dashboard's Jinja2 environment (autoescaping everywhere) and its display helpers."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from bot.cases import PRIORITIES
from bot.languages import NATIVE_NAMES, direction
from bot.models import utcnow

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PRIORITY_NAMES = {value: name for name, value in PRIORITIES.items()}
LANGUAGE_NAMES = {
    "en": "English",
    "ar": "Arabic",
    "fr": "French",
    "es": "Spanish",
    "tl": "Tagalog",
    "id": "Indonesian",
    "ne": "Nepali",
    "am": "Amharic",
}


def waited(since: datetime | None, now: datetime | None = None) -> str:
    """A short, human waiting time: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if since is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def until(deadline: datetime | None, now: datetime | None = None) -> str:
    """Time left before a deadline, or how long ago it was missed."""
    if deadline is None:
        return ""
    now = now or utcnow()
    if deadline >= now:
        return "in " + waited(now, deadline)
    return "missed " + waited(deadline, now) + " ago"


def overdue(deadline: datetime | None, now: datetime | None = None) -> bool:
    return deadline is not None and deadline < (now or utcnow())


def highlight(text: str | None, evidence: list[str]) -> Markup:
    """The text escaped, with every piece of red-flag evidence in it wrapped in ``<mark>``."""
    text = text or ""
    phrases = sorted({e.strip() for e in evidence if e and e.strip()}, key=len, reverse=True)
    if not phrases:
        return escape(text)
    pattern = re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE)
    out: list[str] = []
    position = 0
    for found in pattern.finditer(text):
        out.append(str(escape(text[position : found.start()])))
        out.append(f'<mark class="evidence">{escape(found.group(0))}</mark>')
        position = found.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def local_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        waited=waited,
        until=until,
        overdue=overdue,
        highlight=highlight,
        local_time=local_time,
        priority_name=lambda value: PRIORITY_NAMES.get(value, str(value)),
        language_name=lambda code: LANGUAGE_NAMES.get(code, code or ""),
        native_name=lambda code: NATIVE_NAMES.get(code, code or ""),
        text_direction=direction,
        humanise=lambda value: str(value or "").replace("_", " "),
    )
    return env
