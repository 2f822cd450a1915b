from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.keywords import Keywords, fold
from bot.languages import SUPPORTED


@pytest.fixture(scope="module")
def keywords() -> Keywords:
    return Keywords.load()


def test_every_language_has_an_erase_word_and_a_safe_word(keywords: Keywords) -> None:
    assert sorted(keywords.erase) == sorted(SUPPORTED)
    assert sorted(keywords.safe_words) == sorted(SUPPORTED)


@pytest.mark.parametrize(
    "text",
    [
        "DELETE",
        " delete. ",
        "Delete!",
        "حذف",
        "امسح",
        "SUPPRIMER",
        "borrar",
        "Burahin",
        "hapus",
        "मेटाउ",
        "ሰርዝ።",
    ],
    ids=["upper", "spaces-dot", "bang", "ar", "ar-2", "fr", "es", "tl", "id", "ne", "am-full-stop"],
)
def test_erase_words_are_read_whatever_their_case_and_punctuation(
    keywords: Keywords, text: str
) -> None:
    assert keywords.is_erase(text)
    assert not keywords.is_safe_word(text)


@pytest.mark.parametrize(
    "text",
    ["please delete my chat", "deleted", "", None, "erase erase"],
    ids=["in-a-sentence", "longer-word", "empty", "none", "twice"],
)
def test_only_the_word_alone_is_a_keyword(keywords: Keywords, text: str | None) -> None:
    assert not keywords.is_erase(text)


def test_safe_words_are_phrases_matched_whole(keywords: Keywords) -> None:
    assert keywords.is_safe_word("Order  status?")
    assert keywords.is_safe_word("حالة الطلب")
    assert not keywords.is_safe_word("what is my order status")


def test_the_erase_word_told_to_people_is_the_first_of_their_language(keywords: Keywords) -> None:
    assert [keywords.erase_word(language) for language in ("en", "fr", "ar")] == [
        "delete",
        "supprimer",
        "امسح",
    ]


def test_fold_ignores_composition_and_direction_marks() -> None:
    assert fold("\u200fCAFE\u0301!") == fold("café")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("erase: {}\n", "safe_words must map languages"),
        ("erase: {xx: [a]}\nsafe_words: {}\n", "unknown languages xx"),
        ("erase: {en: [delete]}\nsafe_words: {en: [delete]}\n", "both erase and safe: delete"),
        ("erase: {en: ['']}\nsafe_words: {}\n", "erase.en must list words"),
        ("erase: [\n", "cannot read"),
    ],
    ids=["missing-kind", "unknown-language", "clash", "empty-word", "bad-yaml"],
)
def test_a_bad_keywords_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keywords.yml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        Keywords.load(path)
