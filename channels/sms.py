"""SMS arithmetic: GSM-7 or UCS-2, and how many segments a text costs.

A text whose every character is in the GSM 03.38 alphabet travels as GSM-7: 160
septets in one segment, 153 a segment when concatenated (the rest carries the
concatenation header); characters of the extension table take two septets. Any
other character (Arabic, Amharic, Nepali, most emoji) turns the whole message into
UCS-2: 70 UTF-16 code units in one segment, 67 a segment when concatenated.
"""

from __future__ import annotations

from collections.abc import Callable
from math import ceil

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set (the escape character itself excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape septet plus its own.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

SINGLE = {GSM7: 160, UCS2: 70}
MULTIPART = {GSM7: 153, UCS2: 67}


def encoding(text: str) -> str:
    return GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text) else UCS2


def gsm7_septets(text: str) -> int:
    return sum(2 if c in GSM7_EXTENDED else 1 for c in text)


def utf16_units(text: str) -> int:
    """UTF-16 code units: what UCS-2 SMS and Telegram's length limits count."""
    return len(text.encode("utf-16-le")) // 2


def sizer(text: str) -> Callable[[str], int]:
    """How to measure pieces of ``text`` in the encoding the whole text needs."""
    return gsm7_septets if encoding(text) == GSM7 else utf16_units


def segments(text: str) -> int:
    """How many segments the text is billed as."""
    kind = encoding(text)
    units = sizer(text)(text)
    if units <= SINGLE[kind]:
        return 1
    return ceil(units / MULTIPART[kind])


def part_budget(text: str, max_segments: int) -> int:
    """The most units one message of ``text``'s encoding may carry in ``max_segments`` segments.

    One unit a segment boundary is kept spare: a carrier never splits an escape
    sequence or a surrogate pair, and moves it whole to the next segment.
    """
    kind = encoding(text)
    if max_segments == 1:
        return SINGLE[kind]
    return max_segments * MULTIPART[kind] - (max_segments - 1)
