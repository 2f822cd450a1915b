"""The languages the helpline speaks (contract section 7). Pure Python: both runtimes import it."""

from __future__ import annotations

SUPPORTED: tuple[str, ...] = ("en", "ar", "fr", "es", "tl", "id", "ne", "am")
FALLBACK = "en"
ALIASES: dict[str, str] = {"fil": "tl", "in": "id"}
RIGHT_TO_LEFT: frozenset[str] = frozenset({"ar"})

# Each language's name in itself, for menus.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "ar": "العربية",
    "fr": "Français",
    "es": "Español",
    "tl": "Tagalog",
    "id": "Bahasa Indonesia",
    "ne": "नेपाली",
    "am": "አማርኛ",
}


def normalise(code: str | None) -> str | None:
    """An ISO 639-1 code of a supported language, or None; accepts aliases and regions (pt-BR)."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    base = ALIASES.get(base, base)
    return base if base in SUPPORTED else None


def direction(code: str) -> str:
    return "rtl" if code in RIGHT_TO_LEFT else "ltr"
