from __future__ import annotations

from typing import ClassVar

import pytest

from channels import sms
from channels.base import Channel, Choice, Limits, Outgoing, split_text


class Narrow(Channel):
    """A text-only channel with short messages, like SMS."""

    name = "narrow"
    limits: ClassVar[Limits] = Limits(max_chars=70, supports_buttons=False)

    async def send(self, address: str, message: Outgoing) -> str | None:
        return None


class Buttons(Channel):
    name = "buttons"
    limits: ClassVar[Limits] = Limits(max_chars=60, supports_buttons=True)

    async def send(self, address: str, message: Outgoing) -> str | None:
        return None


CHOICES = (Choice("My pay", "/faq_wages"), Choice("Talk to a person", "/request_human"))


def test_short_text_is_one_part() -> None:
    assert split_text("Hello.", 10) == ["Hello."]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (
            "You must be paid. Keep your passport. Ask for a contract.",
            40,
            ["You must be paid. Keep your passport.", "Ask for a contract."],
        ),
        (
            "Are you safe? Call us now! We can help.",
            15,
            ["Are you safe?", "Call us now!", "We can help."],
        ),
        (
            "هل أنت بأمان؟ يمكننا مساعدتك؟ اكتب لنا",
            20,
            ["هل أنت بأمان؟", "يمكننا مساعدتك؟", "اكتب لنا"],
        ),
        (
            "के तपाईं सुरक्षित हुनुहुन्छ। हामी मद्दत गर्न सक्छौं।",
            30,
            ["के तपाईं सुरक्षित हुनुहुन्छ।", "हामी मद्दत गर्न सक्छौं।"],
        ),
        ("ደህና ነህ። እኛ ልንረዳህ እንችላለን። ጻፍልን", 20, ["ደህና ነህ።", "እኛ ልንረዳህ እንችላለን።", "ጻፍልን"]),
    ],
    ids=[
        "latin",
        "question-exclamation",
        "arabic-question-mark",
        "devanagari-danda",
        "amharic-full-stop",
    ],
)
def test_split_at_sentence_boundaries(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("word " * 100, 50),
        ("one very long sentence without any full stop at all that goes on " * 5, 37),
        ("x" * 250, 60),
        ("Short. " + "y" * 130 + " end.", 40),
        ("هذه جملة طويلة جدا " * 20, 45),
    ],
    ids=["words", "no-sentence-end", "no-spaces", "long-word-in-sentences", "arabic-words"],
)
def test_no_part_is_over_the_limit_and_nothing_is_lost(text: str, limit: int) -> None:
    parts = split_text(text, limit)

    assert [p for p in parts if len(p) > limit or not p.strip()] == []
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_line_breaks_survive_splitting() -> None:
    text = "First paragraph is here.\nSecond paragraph follows.\n\nThird one after a blank line."

    parts = split_text(text, 55)

    assert parts == [
        "First paragraph is here.\nSecond paragraph follows.",
        "Third one after a blank line.",
    ]


def test_choices_become_a_numbered_menu_without_buttons() -> None:
    parts = Narrow(state=None).render(Outgoing("What do you need?", CHOICES, "en"))  # type: ignore[arg-type]

    assert parts == [
        Outgoing(
            "What do you need?\n\nReply 1 for My pay\nReply 2 for Talk to a person", CHOICES, "en"
        )
    ]


def test_numbered_menu_keeps_one_choice_a_line_when_split() -> None:
    text = "Here is what I can tell you about your rights. Choose a topic."

    parts = Narrow(state=None).render(Outgoing(text, CHOICES, "en"))  # type: ignore[arg-type]

    assert [p.text for p in parts] == [
        "Here is what I can tell you about your rights. Choose a topic.",
        "Reply 1 for My pay\nReply 2 for Talk to a person",
    ]
    # The menu that a numbered reply refers to travels with the last part.
    assert [p.choices for p in parts] == [(), CHOICES]


def test_buttons_stay_on_the_last_part_where_supported() -> None:
    text = "Here is what I can tell you about your rights. Choose a topic."

    parts = Buttons(state=None).render(Outgoing(text, CHOICES, "ar"))  # type: ignore[arg-type]

    assert parts == [
        Outgoing("Here is what I can tell you about your rights.", (), "ar"),
        Outgoing("Choose a topic.", CHOICES, "ar"),
    ]


class Keyed(Channel):
    """A channel with buttons whose data is limited, like Telegram's 64 bytes."""

    name = "keyed"
    limits: ClassVar[Limits] = Limits(max_chars=100, supports_buttons=True, max_payload_bytes=64)

    async def send(self, address: str, message: Outgoing) -> str | None:
        return None


LANGUAGE_MENU = (
    Choice("English", '/choose_language{"language":"en"}'),
    Choice("العربية", '/choose_language{"language":"ar"}'),
    Choice("Long", '/faq{"topic":"recruitment_fees","country":"LB","detail":"a long payload"}'),
)


@pytest.mark.parametrize(
    ("reply", "meaning"),
    [
        ("2", LANGUAGE_MENU[1].payload),
        (" 1. ", LANGUAGE_MENU[0].payload),
        ("3)", LANGUAGE_MENU[2].payload),
        ("٢", LANGUAGE_MENU[1].payload),
        ("१", LANGUAGE_MENU[0].payload),
        ("4", "4"),
        ("0", "0"),
        ("12 dollars", "12 dollars"),
        ("one", "one"),
    ],
    ids=[
        "digit",
        "digit-with-dot",
        "digit-with-parenthesis",
        "arabic-indic-digit",
        "devanagari-digit",
        "beyond-the-menu",
        "zero",
        "number-in-words",
        "word",
    ],
)
def test_a_numbered_reply_means_the_choice_it_names(reply: str, meaning: str) -> None:
    assert Narrow(state=None).interpret(reply, LANGUAGE_MENU) == meaning  # type: ignore[arg-type]


def test_numbers_mean_nothing_without_a_menu_or_where_buttons_are_real() -> None:
    assert Narrow(state=None).interpret("2", ()) == "2"  # type: ignore[arg-type]
    assert Buttons(state=None).interpret("2", LANGUAGE_MENU) == "2"  # type: ignore[arg-type]


def test_payloads_over_the_button_limit_travel_as_a_key_read_back_through_the_menu() -> None:
    channel = Keyed(state=None)  # type: ignore[arg-type]
    keys = [channel.choice_key(c.payload) for c in LANGUAGE_MENU]

    assert keys[:2] == [LANGUAGE_MENU[0].payload, LANGUAGE_MENU[1].payload]
    assert keys[2].startswith("#") and len(keys[2].encode()) <= 64
    assert [channel.interpret(k, LANGUAGE_MENU) for k in keys] == [c.payload for c in LANGUAGE_MENU]
    assert channel.interpret("#0123456789abcdef0123", LANGUAGE_MENU) == "#0123456789abcdef0123"


def test_parts_are_measured_in_the_units_the_channel_declares() -> None:
    class Utf16(Buttons):
        limits: ClassVar[Limits] = Limits(max_chars=10, supports_buttons=True, size=sms.utf16_units)

    parts = Utf16(state=None).render(Outgoing("🙏🙏🙏 ok. 🙏🙏🙏 ok.", (), "en"))  # type: ignore[arg-type]

    assert [p.text for p in parts] == ["🙏🙏🙏 ok.", "🙏🙏🙏 ok."]
