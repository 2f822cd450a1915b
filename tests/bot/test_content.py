from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from babel.messages.extract import DEFAULT_KEYWORDS, extract

from bot.content import (
    Button,
    Variant,
    extract_responses,
    load_responses,
    parse_responses,
    response_files,
    variant_context,
)

DOMAIN = """\
version: "3.1"
intents:
  - greet
responses:
  utter_greet:
    - text: "Hello {name}, how can I help?"
      buttons:
        - title: "My pay"
          payload: "/faq_wages"
        - title: "Talk to a person"
          payload: "/request_human"
  utter_faq/wages:
    - text: |-
        You must be paid every month.
        Keep a record of your pay.
    - text: "In Lebanon, pay is due every month."
      condition:
        - type: slot
          name: country
          value: lb
    - text: "Pay: monthly."
      channel: sms
  utter_open_case:
    - custom:
        helpline:
          open_case: {}
"""

EXTRA = """\
version: "3.1"
responses:
  utter_goodbye:
    - text: "Goodbye, stay safe."
"""

NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "nlu_data" / "responses").mkdir(parents=True)
    (tmp_path / "nlu_data" / "responses" / "extra.yml").write_text(EXTRA, encoding="utf-8")
    (tmp_path / "nlu_data" / "en").mkdir()
    (tmp_path / "nlu_data" / "en" / "core.yml").write_text(NLU, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("channel", "country", "expected"),
    [
        (None, None, "utter_x"),
        ("sms", None, "utter_x|channel=sms"),
        (None, "LB", "utter_x|country=LB"),
        ("sms", "LB", "utter_x|channel=sms|country=LB"),
    ],
    ids=["general", "channel", "country", "both"],
)
def test_variant_context(channel: str | None, country: str | None, expected: str) -> None:
    assert variant_context("utter_x", channel, country) == expected


def test_parse_responses() -> None:
    variants = list(parse_responses(yaml.safe_load(DOMAIN)))

    assert variants == [
        Variant(
            "utter_greet",
            "utter_greet",
            "Hello {name}, how can I help?",
            (Button("My pay", "/faq_wages"), Button("Talk to a person", "/request_human")),
        ),
        Variant(
            "utter_faq/wages",
            "utter_faq/wages",
            "You must be paid every month.\nKeep a record of your pay.",
        ),
        Variant(
            "utter_faq/wages",
            "utter_faq/wages|country=LB",
            "In Lebanon, pay is due every month.",
            country="LB",
        ),
        Variant("utter_faq/wages", "utter_faq/wages|channel=sms", "Pay: monthly.", channel="sms"),
    ]


@pytest.mark.parametrize(
    "document",
    [None, {}, {"responses": None}, {"responses": {"utter_x": None}}],
    ids=["none", "empty", "no-responses", "no-variations"],
)
def test_parse_responses_of_empty_documents(document: dict | None) -> None:
    assert list(parse_responses(document)) == []


def test_load_responses_reads_domain_and_nlu_data_responses(root: Path) -> None:
    responses = load_responses(root)

    # Training examples (nlu_data/en/) are not read: only where responses are declared.
    assert response_files(root) == [
        root / "domain.yml",
        root / "nlu_data" / "responses" / "extra.yml",
    ]
    assert sorted(responses) == ["utter_faq/wages", "utter_goodbye", "utter_greet"]
    assert [v.context for v in responses["utter_faq/wages"]] == [
        "utter_faq/wages",
        "utter_faq/wages|country=LB",
        "utter_faq/wages|channel=sms",
    ]
    assert responses["utter_goodbye"][0].text == "Goodbye, stay safe."


def test_extractor_yields_context_and_msgid_pairs() -> None:
    found = list(extract_responses(io.BytesIO(DOMAIN.encode()), DEFAULT_KEYWORDS.keys(), [], {}))

    assert [(funcname, message) for _line, funcname, message, _comments in found] == [
        ("pgettext", ("utter_greet", "Hello {name}, how can I help?")),
        ("pgettext", ("utter_greet|button", "My pay")),
        ("pgettext", ("utter_greet|button", "Talk to a person")),
        (
            "pgettext",
            ("utter_faq/wages", "You must be paid every month.\nKeep a record of your pay."),
        ),
        ("pgettext", ("utter_faq/wages|country=LB", "In Lebanon, pay is due every month.")),
        ("pgettext", ("utter_faq/wages|channel=sms", "Pay: monthly.")),
    ]


def test_babel_runs_the_extractor_named_in_babel_cfg() -> None:
    messages = list(
        extract(
            "bot.content:extract_responses", io.BytesIO(DOMAIN.encode()), keywords=DEFAULT_KEYWORDS
        )
    )

    assert [(line, context, msgid) for line, msgid, _comments, context in messages] == [
        (6, "utter_greet", "Hello {name}, how can I help?"),
        (8, "utter_greet|button", "My pay"),
        (10, "utter_greet|button", "Talk to a person"),
        (14, "utter_faq/wages", "You must be paid every month.\nKeep a record of your pay."),
        (16, "utter_faq/wages|country=LB", "In Lebanon, pay is due every month."),
        (21, "utter_faq/wages|channel=sms", "Pay: monthly."),
    ]


@pytest.mark.parametrize(
    "source", [b"", b"- just\n- a list\n", NLU.encode()], ids=["empty", "list", "nlu"]
)
def test_extractor_ignores_files_without_responses(source: bytes) -> None:
    assert list(extract_responses(io.BytesIO(source), [], [], {})) == []
