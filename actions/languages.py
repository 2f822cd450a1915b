"""The languages the helpline serves and the names people use for them.

Standard library and PyYAML only, so that the helpline (Python 3.11) can import
or mirror it without rasa_sdk.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_LANGUAGE = "en"

# ISO 639-1 codes, in the order the language menu shows them.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ar", "fr", "es", "tl", "id", "ne", "am")

# Other ways of naming a supported language: codes from other standards and
# language names in English and in the language itself. Keys are casefolded.
ALIASES: dict[str, str] = {
    "fil": "tl",
    "in": "id",
    "eng": "en",
    "english": "en",
    "inglish": "en",
    "ara": "ar",
    "arabic": "ar",
    "arabi": "ar",
    "عربي": "ar",
    "العربية": "ar",
    "fra": "fr",
    "fre": "fr",
    "french": "fr",
    "francais": "fr",
    "français": "fr",
    "spa": "es",
    "spanish": "es",
    "espanol": "es",
    "español": "es",
    "tgl": "tl",
    "tagalog": "tl",
    "filipino": "tl",
    "pilipino": "tl",
    "ind": "id",
    "bahasa": "id",
    "bahasa indonesia": "id",
    "indonesian": "id",
    "indonesia": "id",
    "nep": "ne",
    "nepali": "ne",
    "nepalese": "ne",
    "नेपाली": "ne",
    "amh": "am",
    "amharic": "am",
    "amarigna": "am",
    "አማርኛ": "am",
}


def normalise_language(value: str | None) -> str | None:
    """Return the supported ISO 639-1 code that `value` names, or None.

    Accepts codes ("ar"), aliases ("fil"), names ("Français") and locale tags
    ("ar-LB", "pt_BR" gives None because Portuguese is not served).
    """
    if not value:
        return None
    key = " ".join(unicodedata.normalize("NFC", value).casefold().split())
    if key in SUPPORTED_LANGUAGES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    for separator in ("-", "_"):
        if separator in key:
            return normalise_language(key.split(separator, 1)[0])
    return None


# Where the names people write for each language are kept: the synonyms of
# nlu_data/<lang>/synonyms.yml (the same data the model's lookup tables use).
NLU_DATA = Path(__file__).resolve().parents[1] / "nlu_data"
# Latin-script names shorter than this are also everyday words ("in", "am", "es").
MIN_LATIN_NAME = 4


def _is_latin(name: str) -> bool:
    return all(char.isascii() or "LATIN" in unicodedata.name(char, "") for char in name)


@lru_cache(maxsize=1)
def language_names(root: Path = NLU_DATA) -> tuple[tuple[str, str], ...]:
    """(name, code) pairs from the aliases and every synonyms file, longest name first."""
    names = dict(ALIASES)
    for path in sorted(root.glob("*/synonyms.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            code = normalise_language(str(item.get("synonym", "")))
            if not code:
                continue
            for line in str(item.get("examples", "")).splitlines():
                name = line.strip().removeprefix("- ").strip()
                if name:
                    names.setdefault(" ".join(unicodedata.normalize("NFC", name).casefold().split()), code)
    usable = [
        (name, code)
        for name, code in names.items()
        if not _is_latin(name) or len(name) >= MIN_LATIN_NAME
    ]
    return tuple(sorted(usable, key=lambda pair: -len(pair[0])))


def language_named_in(text: str) -> str | None:
    """The supported language a message names, found in its words.

    The model's lookup tables match whole words only, which misses the way names
    are written in other scripts: "नेपाली मा" (Python's word boundary fails after
    a vowel sign), "በአማርኛ" and "بالعربي" (a prefix joined to the name). Names
    in those scripts are found anywhere in the text; Latin ones as whole words.
    """
    folded = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    found: list[tuple[int, str]] = []
    for name, code in language_names():
        if _is_latin(name):
            match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", folded)
            position = match.start() if match else -1
        else:
            position = folded.find(name)
        if position >= 0:
            found.append((position, code))
    return min(found)[1] if found else None
