"""Gettext catalogues in ``locales/``, read with Babel and reloaded when edited.

Translations marked ``#, fuzzy`` (written without a native speaker's review) are
served, because an unreviewed translation serves a person better than English;
``helpline content check`` reports them. A missing translation falls back to English,
and so does a stale one: after the English changed, ``make i18n-update`` keeps the old
translation for the translator with the previous English in ``#|`` lines, and until
those lines are gone it may say something the English no longer says.
"""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.languages import FALLBACK, SUPPORTED

DOMAIN = "messages"
# The flag read_catalog gives an entry whose English changed since it was translated.
STALE = "stale"
RELOAD_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Translation:
    text: str
    language: str
    fuzzy: bool = False

    @property
    def fell_back(self) -> bool:
        return self.language == FALLBACK


Key = tuple[str | None, str]


class Catalogs:
    def __init__(self, locales_dir: Path) -> None:
        self.locales_dir = locales_dir
        self._entries: dict[str, dict[Key, tuple[str, bool]]] = {}
        self._mtimes: dict[str, float] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def po_path(self, language: str) -> Path:
        return self.locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"

    def refresh(self, *, force: bool = False) -> None:
        """Reload catalogues whose file changed; cheap enough for every request."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            for language in SUPPORTED:
                path = self.po_path(language)
                mtime = path.stat().st_mtime if path.is_file() else -1.0
                if not force and self._mtimes.get(language) == mtime:
                    continue
                self._mtimes[language] = mtime
                self._entries[language] = self._read(path) if mtime >= 0 else {}

    @staticmethod
    def _read(path: Path) -> dict[Key, tuple[str, bool]]:
        catalog = read_catalog(path)
        entries: dict[Key, tuple[str, bool]] = {}
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue
            if STALE in message.flags:
                continue  # stale: the English changed since it was translated
            if isinstance(message.string, str) and message.string:
                entries[(message.context, message.id)] = (message.string, message.fuzzy)
        return entries

    def translate(self, language: str, msgid: str, context: str | None = None) -> Translation:
        self.refresh()
        found = self._entries.get(language, {}).get((context, msgid))
        if found is not None:
            return Translation(found[0], language, found[1])
        if language == FALLBACK:
            english = self._entries.get(FALLBACK, {}).get((context, msgid))
            return Translation(english[0] if english else msgid, FALLBACK)
        return Translation(self.translate(FALLBACK, msgid, context).text, FALLBACK)

    def has(self, language: str, msgid: str, context: str | None = None) -> bool:
        self.refresh()
        return language == FALLBACK or (context, msgid) in self._entries.get(language, {})


def read_catalog(path: Path, *, abort_invalid: bool = False) -> Catalog:
    """A ``.po`` file, its stale entries flagged ``STALE``.

    ``pybabel update --previous`` writes the previous English of a changed entry in
    ``#|`` lines, which Babel's reader skips: they become a flag here.
    """
    text = path.read_bytes()
    text = re.sub(rb"(?m)^#\|.*$", b"#, " + STALE.encode(), text)
    return read_po(io.BytesIO(text), abort_invalid=abort_invalid)


_catalogs: Catalogs | None = None


def install(catalogs: Catalogs) -> None:
    global _catalogs
    _catalogs = catalogs


def catalogs() -> Catalogs:
    global _catalogs
    if _catalogs is None:
        _catalogs = Catalogs(Path.cwd() / "locales")
    return _catalogs


def N_(message: str, /) -> str:
    """Mark a message kept in a constant for extraction; translate it where used with _()."""
    return message


def _(language: str, message: str, /, **values: object) -> str:
    """Translate a message of the helpline's own code, filling ``{name}`` placeholders."""
    text = catalogs().translate(language, message).text
    return text.format(**values) if values else text
