from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import i18n, nlg
from bot.errors import ContentMissing
from bot.i18n import Catalogs
from bot.nlg import NLG, Rendered, fill
from tests.helpers.catalogs import write_catalog

DOMAIN = """\
version: "3.1"
responses:
  utter_greet:
    - text: "Hello {name}, how can I help?"
      buttons:
        - title: "My pay"
          payload: "/faq_wages"
        - title: "Talk to a person"
          payload: "/request_human"
  utter_faq/wages:
    - text: "You must be paid every month."
    - text: "In Lebanon, pay is due every month."
      condition:
        - type: slot
          name: country
          value: LB
    - text: "Pay: monthly."
      channel: sms
  utter_lebanon_only:
    - text: "Only in Lebanon."
      condition:
        - type: slot
          name: country
          value: LB
"""

NOTICE = "This answer is not yet available in {language}. Here it is in English:"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    locales = tmp_path / "locales"
    write_catalog(
        locales,
        "fr",
        [
            (
                "Hello {name}, how can I help?",
                "Bonjour {name}, comment puis-je vous aider ?",
                "utter_greet",
            ),
            ("My pay", "Mon salaire", "utter_greet|button"),
            ("Talk to a person", "Parler à une personne", "utter_greet|button"),
            (
                "You must be paid every month.",
                "Vous devez être payé chaque mois.",
                "utter_faq/wages",
            ),
            (
                "In Lebanon, pay is due every month.",
                "Au Liban, le salaire est dû chaque mois.",
                "utter_faq/wages|country=LB",
            ),
            ("Pay: monthly.", "Salaire : mensuel.", "utter_faq/wages|channel=sms", True),
        ],
    )
    write_catalog(
        locales,
        "ar",
        [(NOTICE, "هذه الإجابة غير متوفرة بعد باللغة {language}. إليك النص بالإنجليزية:")],
    )
    # The notice is the helpline's own text, translated through the installed catalogues.
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(locales))
    return tmp_path


@pytest.fixture
def generator(root: Path) -> NLG:
    return NLG(root, i18n.catalogs())


def test_translation_is_found_and_placeholders_filled(generator: NLG) -> None:
    rendered = generator.render("utter_greet", language="fr", values={"name": "Amina"})

    assert (rendered.text, rendered.language, rendered.fell_back) == (
        "Bonjour Amina, comment puis-je vous aider ?",
        "fr",
        False,
    )


def test_english_source(generator: NLG) -> None:
    rendered = generator.render("utter_greet", language="en", values={"name": "Amina"})

    assert rendered == Rendered(
        "Hello Amina, how can I help?",
        "en",
        [
            {"title": "My pay", "payload": "/faq_wages"},
            {"title": "Talk to a person", "payload": "/request_human"},
        ],
        False,
    )


def test_buttons_are_translated_with_the_button_context(generator: NLG) -> None:
    rendered = generator.render("utter_greet", language="fr", values={"name": "Amina"})

    assert rendered.buttons == [
        {"title": "Mon salaire", "payload": "/faq_wages"},
        {"title": "Parler à une personne", "payload": "/request_human"},
    ]


def test_fuzzy_translation_is_served(generator: NLG) -> None:
    assert (
        generator.render("utter_faq/wages", language="fr", channel="sms").text
        == "Salaire : mensuel."
    )


@pytest.mark.parametrize(
    ("language", "notice"),
    [
        ("tl", "This answer is not yet available in Tagalog. Here it is in English:"),
        ("fil", "This answer is not yet available in Tagalog. Here it is in English:"),
        ("ar", "هذه الإجابة غير متوفرة بعد باللغة العربية. إليك النص بالإنجليزية:"),
    ],
    ids=["no-catalogue", "alias", "notice-translated"],
)
def test_missing_translation_is_english_with_a_notice(
    generator: NLG, language: str, notice: str
) -> None:
    rendered = generator.render("utter_greet", language=language, values={"name": "Amina"})

    assert rendered.text == f"{notice}\nHello Amina, how can I help?"
    assert (rendered.language, rendered.fell_back) == ("en", True)
    assert [b["title"] for b in rendered.buttons] == ["My pay", "Talk to a person"]


@pytest.mark.parametrize("language", ["en", "xx", ""], ids=["english", "unknown", "empty"])
def test_english_or_unknown_language_has_no_notice(generator: NLG, language: str) -> None:
    rendered = generator.render("utter_faq/wages", language=language)

    assert (rendered.text, rendered.language, rendered.fell_back) == (
        "You must be paid every month.",
        "en",
        False,
    )


@pytest.mark.parametrize(
    ("country", "channel", "expected"),
    [
        (None, None, "Vous devez être payé chaque mois."),
        ("LB", None, "Au Liban, le salaire est dû chaque mois."),
        (None, "sms", "Salaire : mensuel."),
        ("LB", "sms", "Au Liban, le salaire est dû chaque mois."),
        ("JO", "telegram", "Vous devez être payé chaque mois."),
    ],
    ids=["general", "country", "channel", "country-beats-channel", "other-country-and-channel"],
)
def test_most_specific_variant_is_chosen(
    generator: NLG, country: str | None, channel: str | None, expected: str
) -> None:
    assert (
        generator.render("utter_faq/wages", language="fr", country=country, channel=channel).text
        == expected
    )


@pytest.mark.parametrize(
    ("response", "country"),
    [("utter_nothing", "LB"), ("utter_lebanon_only", "JO")],
    ids=["unknown-response", "no-variant-fits"],
)
def test_missing_content_is_an_error(generator: NLG, response: str, country: str) -> None:
    with pytest.raises(ContentMissing) as raised:
        generator.render(response, language="fr", country=country)

    assert raised.value.topic == response


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("Hi {name}", {"name": "Amina"}, "Hi Amina"),
        ("Hi {name}", {}, "Hi {name}"),
        ("{a}{b}", {"a": 1, "b": "{a}"}, "1{a}"),
        ("no placeholders", {"x": 1}, "no placeholders"),
    ],
    ids=["filled", "unknown-left", "not-recursive", "none"],
)
def test_fill(text: str, values: dict[str, object], expected: str) -> None:
    assert fill(text, values) == expected


def test_catalogue_edit_is_served_without_restart(
    generator: NLG, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "RELOAD_CHECK_SECONDS", 0)
    assert generator.render("utter_faq/wages", language="ar").fell_back is True

    write_catalog(
        root / "locales",
        "ar",
        [("You must be paid every month.", "يجب أن تحصل على أجرك كل شهر.", "utter_faq/wages")],
    )

    assert generator.render("utter_faq/wages", language="ar") == Rendered(
        "يجب أن تحصل على أجرك كل شهر.", "ar"
    )


def test_domain_edit_is_served_without_restart(
    generator: NLG, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nlg, "RELOAD_CHECK_SECONDS", 0)
    domain = root / "domain.yml"
    before = domain.stat().st_mtime

    domain.write_text(
        DOMAIN.replace("You must be paid every month.", "Pay is due monthly."), encoding="utf-8"
    )
    os.utime(domain, (before + 1, before + 1))

    assert generator.render("utter_faq/wages", language="en").text == "Pay is due monthly."


def test_rasa_request(generator: NLG) -> None:
    request = {
        "response": "utter_greet",
        "arguments": {},
        "tracker": {
            "sender_id": "c_123",
            "slots": {"name": "Amina", "country": None},
            "latest_message": {"metadata": {"language": "fr", "channel": "web"}},
        },
        "channel": {"name": "rest"},
    }

    assert generator.for_rasa(request).as_rasa() == {
        "text": "Bonjour Amina, comment puis-je vous aider ?",
        "buttons": [
            {"title": "Mon salaire", "payload": "/faq_wages"},
            {"title": "Parler à une personne", "payload": "/request_human"},
        ],
        "image": None,
        "elements": [],
        "attachments": [],
        "custom": {},
    }


@pytest.mark.parametrize(
    ("arguments", "metadata", "slots", "known", "expected"),
    [
        ({"language": "en"}, {"language": "fr"}, {}, "fr", "You must be paid every month."),
        ({}, {"language": "fr"}, {}, "en", "Vous devez être payé chaque mois."),
        ({}, {}, {}, "fr", "Vous devez être payé chaque mois."),
        ({}, {}, {"country": "LB"}, "fr", "Au Liban, le salaire est dû chaque mois."),
        ({}, {"channel": "sms"}, {}, "fr", "Salaire : mensuel."),
        ({}, {}, {}, None, "You must be paid every month."),
    ],
    ids=[
        "arguments-first",
        "metadata-next",
        "known-language",
        "country-slot",
        "channel-metadata",
        "default",
    ],
)
def test_rasa_request_language_country_and_channel(
    generator: NLG, arguments: dict, metadata: dict, slots: dict, known: str | None, expected: str
) -> None:
    request = {
        "response": "utter_faq/wages",
        "arguments": arguments,
        "tracker": {"slots": slots, "latest_message": {"metadata": metadata}},
    }

    assert generator.for_rasa(request, known_language=known).text == expected
