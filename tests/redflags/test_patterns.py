"""The pattern language of the lexicon files."""

from __future__ import annotations

import re

import pytest

from bot.redflags.normalize import normalize_text
from bot.redflags.patterns import PatternError, bounded, compile_full, compile_pattern, compile_slot


def matches(pattern: str, text: str, slots: dict | None = None) -> str | None:
    compiled = compile_full(pattern, slots or {}, "g")
    found = re.search(bounded(compiled.regex), normalize_text(text))
    return found.group() if found else None


SLOTS: dict = {}
SLOTS["holder"] = compile_slot(["madam", "sir", "my employer"], False, SLOTS, "holder")
SLOTS["document"] = compile_slot(["passport", "iqama"], True, SLOTS, "document")

CASES = [
    ("{holder} took my {document}", "sir took my iqama", "sir tok my iqama"),
    (
        "{holder} ... took ... {document}",
        "madam she took all my passport",
        "madam she tok al my pasport",
    ),
    ("{holder} ... took ... {document}", "madam a b c d took my passport", None),
    (
        "{holder} ...5 took my {document}",
        "madam a b c d took my passport",
        "madam a b c d tok my pasport",
    ),
    ("(keep*|took) my {document}", "keeping my passport", "keping my pasport"),
    ("[the] {document} is with {holder}", "passport is with madam", "pasport is with madam"),
    (
        "[the] {document} is with {holder}",
        "the passport is with madam",
        "the pasport is with madam",
    ),
    ("my {document}", "my passprt", "my pasprt"),
    ("my {document}", "my paspotr", "my paspotr"),
    ("my {document}", "my pasxport", "my pasxport"),
    ("my {document}", "my pxssport", "my pxsport"),
    ("lock*", "locked", "locked"),
    ("lock*", "unlocked", None),
    ("*جواز*", "وجوازي", "وجوازي"),
    ("i am <minor_age>", "i am 16", "i am 16"),
    ("i am <minor_age>", "i am 18", None),
    ("i am <minor_age>", "i am 160", None),
    ("a5adou(ch|sh)", "akhadoush", "akhadoush"),
    ("didn't pay", "didnt pay", None),
    ("didn't pay", "didn't pay", "didn t pay"),
    ("took", "mistook", None),
]


@pytest.mark.parametrize(
    ("pattern", "text", "expected"), CASES, ids=[f"{c[0]}|{c[1]}" for c in CASES]
)
def test_pattern_matches(pattern, text, expected):
    assert matches(pattern, text, SLOTS) == expected


def test_gaps_are_captured_for_negation():
    compiled = compile_full("{holder} ... took ... {document}", SLOTS, "g")
    found = re.search(bounded(compiled.regex), normalize_text("madam did not took my passport"))
    assert found is not None
    assert [found.group(g).strip() for g in compiled.gap_groups] == ["did not", "my"]


def test_longer_alternatives_are_preferred():
    compiled = compile_full("(ne peux|ne peux pas) ... parler", {}, "g")
    found = re.search(bounded(compiled.regex), "je ne peux pas parler")
    assert found is not None
    assert found.group(compiled.gap_groups[0]) == ""


@pytest.mark.parametrize(
    "pattern",
    [
        "(took",
        "took)",
        "[my passport",
        "{unknown} took",
        "... took",
        "took ...",
        "(took|)",
        "took?",
        "pass*port",
        "<nope>",
        "😭",
    ],
    ids=[
        "open",
        "close",
        "bracket",
        "slot",
        "leading-gap",
        "trailing-gap",
        "empty-alt",
        "question",
        "inner-star",
        "builtin",
        "emoji",
    ],
)
def test_bad_patterns_are_rejected_with_a_reason(pattern):
    with pytest.raises(PatternError) as error:
        compile_full(pattern, SLOTS, "g")
    assert pattern in str(error.value)


def test_script_variant_keeps_only_that_script():
    slots: dict = {}
    slots["doc"] = compile_slot(["passport", "جواز*"], False, slots, "doc", script="arabic")
    compiled = compile_pattern("(اخذت|took) {doc}", slots, "g", script="arabic")
    assert compiled is not None
    assert "took" not in compiled.regex
    assert compile_pattern("took my passport", {}, "g", script="arabic") is None
