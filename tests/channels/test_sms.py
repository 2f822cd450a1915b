from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from bot import i18n
from bot.i18n import Catalogs
from channels import sms
from channels.base import Channel, Choice, Limits, Outgoing
from tests.helpers.catalogs import write_catalog


class Sms(Channel):
    """A channel declared as SMS is: four segments a part at most, parts numbered."""

    name = "sms-like"
    limits: ClassVar[Limits] = Limits(
        max_chars=1600, supports_buttons=False, max_segments=4, number_parts=True
    )

    async def send(self, address: str, message: Outgoing) -> str | None:
        return None


def render(text: str, *choices: Choice, language: str = "en") -> list[Outgoing]:
    return Sms(state=None).render(Outgoing(text, choices, language))  # type: ignore[arg-type]


ENCODINGS = {
    "english": ("Your employer must pay you every month.", sms.GSM7),
    "gsm-accents-and-symbols": ("Où est mon passeport? 50€ {ok} ~ ^ | [1]", sms.GSM7),
    "french-circumflex": ("Vous êtes payée chaque mois.", sms.UCS2),
    "curly-quotes": ("Write \u201cperson\u201d to talk to us.", sms.UCS2),
    "arabic": ("يجب أن يدفع لك صاحب العمل", sms.UCS2),
    "amharic": ("አሰሪዎ በየወሩ መክፈል አለበት።", sms.UCS2),
    "nepali": ("तपाईंको रोजगारदाताले हरेक महिना तलब दिनुपर्छ।", sms.UCS2),
    "tagalog": ("Dapat kang bayaran ng iyong amo buwan-buwan.", sms.GSM7),
    "emoji": ("We are here 🙏", sms.UCS2),
}


@pytest.mark.parametrize(("text", "expected"), ENCODINGS.values(), ids=ENCODINGS.keys())
def test_encoding_is_gsm7_only_when_every_character_is_in_the_gsm_alphabet(
    text: str, expected: str
) -> None:
    assert sms.encoding(text) == expected


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("ب" * 70, 1),
        ("ب" * 71, 2),
        ("ب" * 134, 2),
        ("ب" * 135, 3),
        ("🙏" * 35, 1),
        ("🙏" * 36, 2),
        ("a" * 159 + "ب", 3),
    ],
    ids=[
        "gsm-160",
        "gsm-161",
        "gsm-306",
        "gsm-307",
        "gsm-extension-160-septets",
        "gsm-extension-162-septets",
        "ucs2-70",
        "ucs2-71",
        "ucs2-134",
        "ucs2-135",
        "emoji-70-units",
        "emoji-72-units",
        "one-arabic-letter-makes-it-all-ucs2",
    ],
)
def test_segments_are_counted_as_carriers_bill_them(text: str, segments: int) -> None:
    assert sms.segments(text) == segments


def test_a_short_answer_is_one_unnumbered_part() -> None:
    text = "Your employer must pay you every month. " * 10

    assert render(text.strip()) == [Outgoing(text.strip(), (), "en")]


@pytest.mark.parametrize(
    ("sentence", "language", "budget"),
    [
        ("Your employer must pay you the full wage every month, on time. ", "en", 4 * 153 - 3),
        ("يجب أن يدفع لك صاحب العمل أجرك كاملا في موعده كل شهر. ", "ar", 4 * 67 - 3),
        ("तपाईंको रोजगारदाताले हरेक महिना पूरा तलब समयमै दिनुपर्छ। ", "ne", 4 * 67 - 3),
        ("አሰሪዎ በየወሩ ሙሉ ደሞዝዎን በሰዓቱ መክፈል አለበት። ", "am", 4 * 67 - 3),
    ],
    ids=["english-gsm7", "arabic-ucs2", "nepali-ucs2", "amharic-ucs2"],
)
def test_a_long_answer_is_split_at_sentences_into_numbered_parts_of_at_most_four_segments(
    sentence: str, language: str, budget: int
) -> None:
    text = (sentence * 25).strip()

    parts = [p.text for p in render(text, language=language)]

    count = len(parts)
    assert count > 1
    assert [p.split(" ", 1)[0] for p in parts] == [f"({n}/{count})" for n in range(1, count + 1)]
    assert all(sms.sizer(text)(p) <= budget and sms.segments(p) <= 4 for p in parts)
    bodies = [p.split(" ", 1)[1] for p in parts]
    assert all(b.endswith(sentence.strip()[-1]) for b in bodies)
    assert " ".join(bodies) == text


def test_numbering_makes_room_for_two_digit_part_counts() -> None:
    text = "Word " * 3000

    parts = [p.text for p in render(text.strip())]

    assert len(parts) >= 10
    assert parts[9].startswith(f"(10/{len(parts)}) ")
    assert all(sms.segments(p) <= 4 for p in parts)


def test_choices_become_reply_lines_in_the_persons_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalog(
        tmp_path / "locales",
        "fr",
        [("Reply {number} for {title}", "Répondez {number} pour : {title}")],
    )
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(tmp_path / "locales"))
    choices = (Choice("Mon salaire", "/faq"), Choice("Parler à une personne", "/request_human"))

    [part] = render("Que voulez-vous ?", *choices, language="fr")

    assert part.text.splitlines() == [
        "Que voulez-vous ?",
        "",
        "Répondez 1 pour : Mon salaire",
        "Répondez 2 pour : Parler à une personne",
    ]
    assert part.choices == choices


def test_a_menu_with_an_arabic_title_makes_the_whole_message_ucs2() -> None:
    [part] = render("Which language?", Choice("English", "/en"), Choice("العربية", "/ar"))

    assert sms.encoding(part.text) == sms.UCS2
    assert (len(part.text), sms.segments(part.text)) == (56, 1)
