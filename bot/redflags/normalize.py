"""Text normalisation that remembers where every character came from.

The engine matches patterns against a normalised form of the message (lower case, accents
and Arabic diacritics removed, letter variants folded, Arabizi digits spelled out, repeated
letters collapsed, punctuation reduced to ``, . ?``) and reports evidence from the original
text, so every normalised character keeps the span of the original characters it stands for.

Patterns are normalised with the same function, so an editor writes words as people spell
them and both sides meet in the middle.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters the normalised text may contain besides word characters.
SPACE = " "
CLAUSE_BREAK = ","
SENTENCE_BREAKS = ".?"
NON_WORD = SPACE + CLAUSE_BREAK + SENTENCE_BREAKS

_PUNCTUATION = {
    # sentence ends
    ".": ".",
    "!": ".",
    "\n": ".",
    "\u2026": ".",
    "\u0964": ".",
    "\u0965": ".",
    "\u1362": ".",
    "\u1368": ".",
    "\u06d4": ".",
    # questions
    "?": "?",
    "\u061f": "?",
    "\u1367": "?",
    "\u00bf": SPACE,
    "\u00a1": SPACE,
    # clause breaks
    ",": ",",
    ";": ",",
    ":": ",",
    "\u060c": ",",
    "\u061b": ",",
    "\u1363": ",",
    "\u1364": ",",
    "\u1365": ",",
    "\u1366": ",",
    # Ethiopic word space is a plain space
    "\u1361": SPACE,
}

_ARABIC_LETTERS = {
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",  # alef forms
    "\u0629": "\u0647",  # taa marbuta -> haa
    "\u0649": "\u064a",  # alef maksura -> yaa
    "\u0624": "\u0648",  # waw with hamza
    "\u0626": "\u064a",  # yaa with hamza
    "\u06cc": "\u064a",
    "\u06a9": "\u0643",
    "\u06af": "\u0643",  # Persian/Urdu forms
}
_ARABIC_DROPPED = {"\u0640"}  # tatweel
_ARABIC_DIACRITICS = set(range(0x064B, 0x0660)) | {0x0670} | set(range(0x06D6, 0x06EE))

_DEVANAGARI = {"\u0901": "\u0902", "\u093c": ""}  # chandrabindu -> anusvara, nukta dropped

_DIGITS = {}
for _base in (0x0660, 0x06F0, 0x0966):  # Arabic-Indic, Persian, Devanagari digits
    for _n in range(10):
        _DIGITS[chr(_base + _n)] = str(_n)

# Arabizi: a digit written inside a Latin word stands for an Arabic letter. 3 (ع) stays as it
# is: "ma3" (with) must not become "ma" (not).
_ARABIZI = {"2": "a", "5": "kh", "6": "t", "7": "h", "8": "gh", "9": "s"}


def _ethiopic_homophone(code: int) -> int:
    """Fold Amharic homophone series (ሐ ኀ -> ሀ, ሠ -> ሰ, ዐ -> አ, ፀ -> ጸ), keeping the vowel order."""
    if 0x1210 <= code <= 0x1217:
        code -= 0x10
    elif 0x1280 <= code <= 0x1287:
        code -= 0x80
    elif 0x1220 <= code <= 0x1227:
        code += 0x10
    elif 0x12D0 <= code <= 0x12D6:
        code -= 0x30
    elif 0x1340 <= code <= 0x1346:
        code -= 0x08
    if code in (0x1203, 0x12A3):  # ሃ -> ሀ, ኣ -> አ (same sound, both spellings common)
        code -= 0x03
    return code


def _is_latin_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _collapsible(ch: str) -> bool:
    """Letters whose repetition is a spelling slip or emphasis ("pleaaase", "جوااازي").

    Not digits, and not Devanagari or Ethiopic, where a repeated letter is a real syllable
    (दिंदैनन्).
    """
    if ch.isdigit():
        return False
    code = ord(ch)
    return not (0x0900 <= code <= 0x097F or 0x1200 <= code <= 0x139F)


def _is_word_char(ch: str) -> bool:
    if ch.isalnum():
        return True
    return unicodedata.category(ch) in ("Mn", "Mc")  # Devanagari vowel signs, virama


@lru_cache(maxsize=8192)
def _transform(ch: str) -> str:
    """The normalised replacement of one original character ('' drops it)."""
    if ch in _PUNCTUATION:
        return _PUNCTUATION[ch]
    if ch in _DIGITS:
        return _DIGITS[ch]
    if ch in _ARABIC_LETTERS:
        return _ARABIC_LETTERS[ch]
    if ch in _ARABIC_DROPPED or ord(ch) in _ARABIC_DIACRITICS:
        return ""
    if ch in _DEVANAGARI:
        return _DEVANAGARI[ch]
    code = ord(ch)
    if 0x1200 <= code <= 0x137F:
        return chr(_ethiopic_homophone(code))
    category = unicodedata.category(ch)
    if category == "Cf":  # zero-width joiners, bidi marks
        return ""
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part) and 0x0300 <= ord(part) <= 0x036F:
            continue  # Latin accents: people on phones often leave them out
        if part in _DEVANAGARI:
            part = _DEVANAGARI[part]
        for folded in part.casefold():
            if folded in _PUNCTUATION:
                out.append(_PUNCTUATION[folded])
            elif folded.isspace():
                out.append(SPACE)
            elif _is_word_char(folded) or folded == "":
                out.append(folded)
            else:
                out.append(SPACE)  # symbols, emoji, apostrophes, hyphens, quotes
    return "".join(out)


# "5am", "2nd", "3months", "500k" are numbers with a unit, not Arabizi.
_NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|h|hr|hrs|hour|hours|k|x|yo|yr|yrs|year|years|month|months|mo|mos|"
    r"day|days|jam|thn|bln|hari|sal|ans|mois|an|anos|dh|usd|sar|qr|kd|aed|lbp|rs|php|rm|jod|omr)"
)


def _arabizi_positions(chars: list[str]) -> set[int]:
    """Indexes of digits written inside a Latin word ("7abasni", "ma 2a5adouch")."""
    positions: set[int] = set()
    i, count = 0, len(chars)
    while i < count:
        if not (chars[i].isascii() and chars[i].isalnum()):
            i += 1
            continue
        j = i
        while j < count and chars[j].isascii() and chars[j].isalnum():
            j += 1
        word = "".join(chars[i:j])
        has_letter = any(_is_latin_letter(c) for c in word)
        if has_letter and not _NUMBER_WITH_UNIT.fullmatch(word):
            positions.update(k for k in range(i, j) if chars[k] in _ARABIZI)
        i = j
    return positions


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus, for each of its characters, the original span it stands for."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text back to the original text."""
        if start >= end:
            return (0, 0)
        return (self.starts[start], self.ends[end - 1])

    def original_text(self, start: int, end: int) -> str:
        a, b = self.original_span(start, end)
        return self.original[a:b]


def normalize(text: str) -> Normalized:
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    for index, ch in enumerate(text):
        replacement = _transform(ch)
        if not replacement:
            if ends:
                ends[-1] = index + 1  # a dropped mark belongs to the character before it
            continue
        for piece in replacement:
            chars.append(piece)
            starts.append(index)
            ends.append(index + 1)

    arabizi = _arabizi_positions(chars)

    # Spell out Arabizi digits, then collapse runs.
    out_c: list[str] = []
    out_s: list[int] = []
    out_e: list[int] = []
    for i, ch in enumerate(chars):
        pieces = _ARABIZI[ch] if i in arabizi else ch
        for piece in pieces:
            if out_c:
                previous = out_c[-1]
                same_run = piece == previous and (piece in NON_WORD or _collapsible(piece))
                stray_space = piece == SPACE and previous in CLAUSE_BREAK + SENTENCE_BREAKS
                if same_run or stray_space:
                    out_e[-1] = ends[i]
                    continue
                if piece in CLAUSE_BREAK + SENTENCE_BREAKS and previous == SPACE:
                    # "word , word" -> "word, word": punctuation sticks to the word before
                    out_c[-1] = piece
                    out_e[-1] = ends[i]
                    continue
            elif piece in NON_WORD:
                continue  # no leading separators
            out_c.append(piece)
            out_s.append(starts[i])
            out_e.append(ends[i])

    while out_c and out_c[-1] == SPACE:
        out_c.pop()
        out_s.pop()
        out_e.pop()
    return Normalized(text, "".join(out_c), tuple(out_s), tuple(out_e))


def normalize_text(text: str) -> str:
    """Only the normalised string (for patterns and cue words)."""
    return normalize(text).text


SCRIPTS = ("latin", "arabic", "devanagari", "ethiopic")


def script_of(ch: str) -> str | None:
    """The script of one normalised character, or None for digits and punctuation."""
    code = ord(ch)
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F:
        return "arabic"
    if 0x0900 <= code <= 0x097F:
        return "devanagari"
    if 0x1200 <= code <= 0x139F:
        return "ethiopic"
    if ch.isalpha():
        return "latin"  # Latin and anything else alphabetic
    return None


def scripts_in(text: str) -> frozenset[str]:
    return frozenset(s for s in map(script_of, set(text)) if s is not None)
