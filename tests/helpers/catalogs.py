"""Small gettext catalogues written into a test's directory."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

# (msgid, msgstr) or (msgid, msgstr, context) or (msgid, msgstr, context, fuzzy)
Entry = tuple[str, str] | tuple[str, str, str | None] | tuple[str, str, str | None, bool]


def write_catalog(locales: Path, language: str, entries: Iterable[Entry]) -> Path:
    """Write ``locales/<language>/LC_MESSAGES/messages.po`` and make its mtime move forward."""
    catalog = Catalog(locale=language)
    for entry in entries:
        msgid, msgstr, context, fuzzy = (*entry, None, False)[:4]  # type: ignore[misc]
        catalog.add(msgid, msgstr, context=context, flags=("fuzzy",) if fuzzy else ())
    path = locales / language / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = path.stat().st_mtime if path.exists() else None
    with path.open("wb") as handle:
        write_po(handle, catalog)
    if previous is not None:
        # A rewrite within the file system's timestamp granularity must still look edited.
        os.utime(path, (previous + 1, previous + 1))
    return path
