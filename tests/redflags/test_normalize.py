"""Normalisation: what the patterns see, and the way back to the original words."""

from __future__ import annotations

import pytest

from bot.redflags.normalize import normalize, normalize_text, scripts_in

CASES = [
    ("Madam TOOK my Passport", "madam tok my pasport"),
    ("pleaaase heeelp", "please help"),
    ("Él NO me pagó… ¿qué hago?", "el no me pago.que hago?"),
    ("ﬁne ＡＢＣ", "fine abc"),
    ("أخذت جوازاتي يا مدامـة", "اخذت جوازاتي يا مدامه"),
    ("إقامة آمنة على", "اقامه امنه علي"),
    ("جَوَازِي", "جوازي"),
    ("ma 2a5adouch l passport", "ma akhadouch l pasport"),
    ("7abasni", "habasni"),
    ("ma3 ahli", "ma3 ahli"),
    ("from 5am to 1am, 2nd month", "from 5am to 1am,2nd month"),
    ("मेरो पासपोर्ट साहुले राख्यो।", "मेरो पासपोर्ट साहुले राख्यो."),
    ("दिँदैनन् १६", "दिंदैनन् 16"),
    ("ፓስፖርቴን ወሰደችው። ሐሳብ", "ፓስፖርቴን ወሰደችው.ሀሳብ"),
    ("ዓመት ኣመት", "አመት አመት"),
    ("don't   go", "don t go"),
    ("😭😭", ""),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Madam TOOK my passsport!!!",
        "المـدام أَخَذَت جَوازي",
        "Él me pagó",
        "ma 2a5adouch",
        "दिँदैनन्",
        "😭 hi 😭",
    ],
    ids=["latin", "arabic", "accents", "arabizi", "devanagari", "emoji"],
)
def test_every_normalised_span_maps_back_into_the_original(text):
    norm = normalize(text)
    for start in range(len(norm.text)):
        for end in range(start + 1, len(norm.text) + 1):
            a, b = norm.original_span(start, end)
            assert 0 <= a < b <= len(text)


def test_span_of_collapsed_and_accented_words_covers_the_whole_original():
    text = "madam tooook my passsport"
    norm = normalize(text)
    assert norm.original_text(0, len(norm.text)) == text


def test_dropped_diacritics_stay_inside_the_evidence():
    text = "جَوازي"
    norm = normalize(text)
    assert norm.original_text(0, len(norm.text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", {"latin"}),
        ("مرحبا hello", {"arabic", "latin"}),
        ("नमस्ते", {"devanagari"}),
        ("ሰላም", {"ethiopic"}),
        ("123 ?", set()),
    ],
    ids=["latin", "mixed", "devanagari", "ethiopic", "none"],
)
def test_scripts_in(text, expected):
    assert scripts_in(normalize_text(text)) == expected
