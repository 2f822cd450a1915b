from __future__ import annotations

from typing import ClassVar

import pytest

from channels.base import Channel, Choice, Limits, Outgoing, split_text
from channels.registry import CHANNELS, channel_class


class Narrow(Channel):
    """A text-only channel with short messages, like SMS."""

    name = "narrow"
    limits: ClassVar[Limits] = Limits(max_chars=60, supports_buttons=False)

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

    assert parts == [Outgoing("What do you need?\n\n1. My pay\n2. Talk to a person", (), "en")]


def test_numbered_menu_keeps_one_choice_a_line_when_split() -> None:
    text = "Here is what I can tell you about your rights. Choose a topic."

    parts = Narrow(state=None).render(Outgoing(text, CHOICES, "en"))  # type: ignore[arg-type]

    assert [p.text for p in parts] == [
        "Here is what I can tell you about your rights.",
        "Choose a topic.\n\n1. My pay\n2. Talk to a person",
    ]
    assert {p.choices for p in parts} == {()}


def test_buttons_stay_on_the_last_part_where_supported() -> None:
    text = "Here is what I can tell you about your rights. Choose a topic."

    parts = Buttons(state=None).render(Outgoing(text, CHOICES, "ar"))  # type: ignore[arg-type]

    assert parts == [
        Outgoing("Here is what I can tell you about your rights.", (), "ar"),
        Outgoing("Choose a topic.", CHOICES, "ar"),
    ]


def test_registry_names_the_web_channel() -> None:
    assert channel_class("web").name == "web"
    assert {name: channel_class(name).name for name in CHANNELS} == {
        name: name for name in CHANNELS
    }
