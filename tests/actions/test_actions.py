"""Unit tests of the custom actions with rasa-sdk's own tracker and dispatcher."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.events import SlotSet

from actions.actions import (
    ActionEmergency,
    ActionEraseData,
    ActionRequestHuman,
    ActionSetLanguage,
)
from actions.languages import ALIASES, SUPPORTED_LANGUAGES, normalise_language
from actions.red_flags import (
    ActionKeepPrivate,
    ActionRedFlag,
    ActionShareWithCaseworker,
    ValidateScreeningForm,
)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = {}


def sent(**fields: Any) -> dict[str, Any]:
    """One message exactly as CollectingDispatcher records it."""
    return {
        "text": None,
        "buttons": [],
        "elements": [],
        "custom": {},
        "template": None,
        "response": None,
        "image": None,
        "attachment": None,
        **fields,
    }


def response(name: str, **arguments: Any) -> dict[str, Any]:
    return sent(template=name, response=name, **arguments)


def command(name: str, argument: Any) -> dict[str, Any]:
    return sent(custom={"helpline": {name: argument}})


def language(value: str) -> dict[str, Any]:
    return {"entity": "language", "value": value, "extractor": "RegexEntityExtractor"}


def test_every_custom_action_of_the_domain_is_implemented():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    implemented = [
        ActionRequestHuman,
        ActionEmergency,
        ActionSetLanguage,
        ActionEraseData,
        ActionRedFlag,
        ActionShareWithCaseworker,
        ActionKeepPrivate,
        ValidateScreeningForm,
    ]

    assert sorted(action().name() for action in implemented) == sorted(
        name for name in domain["actions"] if name.startswith(("action_", "validate_"))
    )


@pytest.mark.asyncio
async def test_request_human_shares_nothing_before_consent(dispatcher, make_tracker):
    tracker = make_tracker("i want to talk to a person", "request_human")

    events = await ActionRequestHuman().run(dispatcher, tracker, DOMAIN)

    # The consent question follows from the rules; no case is opened yet.
    assert dispatcher.messages == []
    assert events == [
        SlotSet("handoff_reason", "request_human"),
        SlotSet("red_flag_risk", "none"),
        SlotSet("red_flag_indicators", []),
    ]


@pytest.mark.asyncio
async def test_request_human_keeps_the_flags_of_an_interrupted_screening(dispatcher, make_tracker):
    earlier = {"code": "debt_bondage", "evidence": "i owe the agency", "confidence": 0.9}
    now = {"code": "restriction_of_movement", "evidence": "locked", "confidence": 0.8}
    tracker = make_tracker(
        "i am locked in, give me a person",
        "request_human",
        entities=[
            {
                "entity": "red_flag",
                "value": now["code"],
                "evidence": now["evidence"],
                "confidence_entity": now["confidence"],
            }
        ],
        slots={"red_flag_risk": "high", "red_flag_indicators": [earlier]},
        red_flag_risk="medium",
    )

    events = await ActionRequestHuman().run(dispatcher, tracker, DOMAIN)

    assert events == [
        SlotSet("handoff_reason", "request_human"),
        SlotSet("red_flag_risk", "high"),
        SlotSet("red_flag_indicators", [earlier, now]),
    ]


@pytest.mark.asyncio
async def test_emergency_opens_the_case_before_any_text(dispatcher, make_tracker):
    tracker = make_tracker("help me now they lock me", "emergency")

    events = await ActionEmergency().run(dispatcher, tracker, DOMAIN)

    assert events == []
    assert dispatcher.messages == [
        command(
            "open_case",
            {"reason": "emergency", "priority": "emergency", "risk": "emergency", "indicators": []},
        ),
        response("utter_emergency"),
    ]


@pytest.mark.parametrize(
    ("text", "entities", "expected_code"),
    [
        ('/choose_language{"language":"ar"}', [language("ar")], "ar"),
        ("french please", [language("fr")], "fr"),
        ("english", [language("en")], "en"),
        ("tagalog po", [language("fil")], "tl"),
        ("bahasa", [language("in")], "id"),
        ("arabic", [language("arabic")], "ar"),
        ("Français svp", [language("Français")], "fr"),
        ("nepali", [language("NE")], "ne"),
        ("አማርኛ", [language("አማርኛ")], "am"),
        ("es-MX", [language("es-MX")], "es"),
        ("portuguese or french", [language("portuguese"), language("french")], "fr"),
    ],
    ids=[
        "button-payload",
        "synonym-mapped",
        "english",
        "alias-fil",
        "alias-in",
        "english-name",
        "native-name-capitalised",
        "code-upper-case",
        "native-script",
        "locale-tag",
        "first-supported-wins",
    ],
)
@pytest.mark.asyncio
async def test_set_language_tells_the_helpline_and_answers_in_the_new_language(
    dispatcher, make_tracker, text, entities, expected_code
):
    tracker = make_tracker(text, "choose_language", entities)

    events = await ActionSetLanguage().run(dispatcher, tracker, DOMAIN)

    assert events == []
    assert dispatcher.messages == [
        command("set_language", expected_code),
        response("utter_language_set", language=expected_code),
    ]


@pytest.mark.parametrize(
    ("text", "expected_code"),
    [
        ("नेपाली मा बोल्नुस्", "ne"),
        ("अरबी भाषा मा लेख्नुस्", "ar"),
        ("በአማርኛ ጻፍልኝ", "am"),
        ("كلمني بالعربي", "ar"),
        ("pwede po sa Tagalog", "tl"),
        ("window please", None),
        ("i am here", None),
    ],
    ids=[
        "devanagari-vowel-sign",
        "devanagari-arabic",
        "ethiopic-prefix",
        "arabic-prefix",
        "latin-whole-word",
        "latin-inside-word",
        "short-code-word",
    ],
)
@pytest.mark.asyncio
async def test_set_language_finds_names_the_lookup_tables_miss(
    dispatcher, make_tracker, text, expected_code
):
    tracker = make_tracker(text, "choose_language", [])

    await ActionSetLanguage().run(dispatcher, tracker, DOMAIN)

    if expected_code is None:
        assert dispatcher.messages == [response("utter_choose_language")]
    else:
        assert dispatcher.messages == [
            command("set_language", expected_code),
            response("utter_language_set", language=expected_code),
        ]


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("change language", []),
        ("portuguese", [language("portuguese")]),
        ("pt-BR", [language("pt-BR")]),
        ("language", [language("")]),
    ],
    ids=["no-entity", "unsupported-name", "unsupported-locale", "empty-value"],
)
@pytest.mark.asyncio
async def test_set_language_offers_the_menu_when_no_supported_language_is_named(
    dispatcher, make_tracker, text, entities
):
    tracker = make_tracker(text, "choose_language", entities)

    events = await ActionSetLanguage().run(dispatcher, tracker, DOMAIN)

    assert events == []
    assert dispatcher.messages == [response("utter_choose_language")]


@pytest.mark.asyncio
async def test_erase_data_erases_then_confirms(dispatcher, make_tracker):
    tracker = make_tracker("yes", "affirm")

    events = await ActionEraseData().run(dispatcher, tracker, DOMAIN)

    assert events == []
    assert dispatcher.messages == [command("erase", {}), response("utter_erased")]


def test_every_supported_language_normalises_to_itself():
    assert [normalise_language(code) for code in SUPPORTED_LANGUAGES] == list(SUPPORTED_LANGUAGES)


def test_language_menu_offers_the_supported_languages_in_order():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    buttons = domain["responses"]["utter_choose_language"][0]["buttons"]

    codes = [
        re.fullmatch(r'/choose_language\{"language":"(\w+)"\}', button["payload"])[1]
        for button in buttons
    ]

    assert tuple(codes) == SUPPORTED_LANGUAGES


@pytest.mark.parametrize(
    "synonyms_file",
    sorted(ROOT.glob("nlu_data/*/synonyms.yml")),
    ids=lambda path: path.parent.name,
)
def test_language_synonyms_map_to_supported_codes(synonyms_file):
    data = yaml.safe_load(synonyms_file.read_text(encoding="utf-8"))

    targets = {item["synonym"] for item in data["nlu"] if "synonym" in item}

    assert targets <= set(SUPPORTED_LANGUAGES)


def test_english_synonyms_agree_with_the_alias_map():
    data = yaml.safe_load((ROOT / "nlu_data" / "en" / "synonyms.yml").read_text(encoding="utf-8"))
    synonyms = {
        name: item["synonym"]
        for item in data["nlu"]
        if "synonym" in item
        for name in re.findall(r"^- (.+)$", item["examples"], re.MULTILINE)
    }

    assert {name: ALIASES.get(name) for name in synonyms} == synonyms
