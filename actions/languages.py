"""The languages the helpline serves and the names people use for them.

Standard library only, so that the helpline (Python 3.11) can import or mirror
it without rasa_sdk.
"""

from __future__ import annotations

import unicodedata

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
