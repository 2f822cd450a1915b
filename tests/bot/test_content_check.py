from __future__ import annotations

from pathlib import Path

import pytest

from bot.content_check import MIN_EXAMPLES, po_syntax_errors, run
from bot.languages import SUPPORTED

DOMAIN = """
version: "3.1"
intents:
  - greet
  - faq
responses:
  utter_greet:
    - text: "Hello {name}."
      buttons:
        - title: "Talk to a person"
          payload: /request_human
  utter_faq/wages:
    - text: "You must be paid every month."
    - text: "Pay: monthly."
      channel: sms
"""


def nlu(examples: int) -> str:
    lines = "\n".join(f"      - example {n}" for n in range(examples))
    return (
        'version: "3.1"\nnlu:\n'
        f"  - intent: greet\n    examples: |\n{lines}\n"
        f"  - intent: faq/wages\n    examples: |\n{lines}\n"
    )


def po(entries: list[tuple[str, str, str, bool]]) -> str:
    blocks = ['msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n']
    for context, msgid, msgstr, fuzzy in entries:
        flag = "#, fuzzy\n" if fuzzy else ""
        blocks.append(f'{flag}msgctxt "{context}"\nmsgid "{msgid}"\nmsgstr "{msgstr}"\n')
    return "\n".join(blocks)


COMPLETE = [
    ("utter_greet", "Hello {name}.", "Bonjour {name}.", False),
    ("utter_greet|button", "Talk to a person", "Parler à une personne", False),
    ("utter_faq/wages", "You must be paid every month.", "Vous devez être payé chaque mois.", True),
    ("utter_faq/wages|channel=sms", "Pay: monthly.", "Paie : mensuelle.", False),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    for language in SUPPORTED:
        (tmp_path / "nlu_data" / language).mkdir(parents=True)
        (tmp_path / "nlu_data" / language / "nlu.yml").write_text(
            nlu(MIN_EXAMPLES), encoding="utf-8"
        )
        folder = tmp_path / "locales" / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        entries = [] if language == "en" else COMPLETE
        (folder / "messages.po").write_text(po(entries), encoding="utf-8")
    return tmp_path


def write_po(root: Path, language: str, entries: list[tuple[str, str, str, bool]]) -> None:
    (root / "locales" / language / "LC_MESSAGES" / "messages.po").write_text(
        po(entries), encoding="utf-8"
    )


def test_complete_content_passes_and_counts_unreviewed(root: Path) -> None:
    report = run(root)

    assert report.errors == []
    assert (report.coverage["fr"].translated, report.coverage["fr"].reviewed) == (4, 3)
    assert "fr: 1 translations await review by a native speaker (#, fuzzy)" in report.notes
    assert report.render().endswith("content check passed")


def test_too_few_examples_names_the_language_and_intent(root: Path) -> None:
    (root / "nlu_data" / "am" / "nlu.yml").write_text(nlu(MIN_EXAMPLES - 1), encoding="utf-8")

    assert run(root).errors == [
        f"nlu_data/am/: intent greet has {MIN_EXAMPLES - 1} examples (at least {MIN_EXAMPLES} needed)",
        f"nlu_data/am/: intent faq/wages has {MIN_EXAMPLES - 1} examples (at least {MIN_EXAMPLES} needed)",
    ]


def test_missing_translation_fails_unless_the_fallback_is_documented(root: Path) -> None:
    write_po(root, "ne", COMPLETE[:3])

    assert run(root).errors == [
        "locales/ne/LC_MESSAGES/messages.po: no translation of 'utter_faq/wages|channel=sms' "
        "(translate it, or list it in locales/fallbacks.yml with a reason)"
    ]
    (root / "locales" / "fallbacks.yml").write_text(
        "ne:\n  utter_faq/wages|channel=sms: the general answer is short enough\n", encoding="utf-8"
    )
    report = run(root)
    assert (report.errors, report.coverage["ne"].fallback) == ([], 1)


def test_placeholders_must_match(root: Path) -> None:
    write_po(root, "es", [("utter_greet", "Hello {name}.", "Hola {nombre}.", False), *COMPLETE[1:]])

    assert run(root).errors == [
        "locales/es/LC_MESSAGES/messages.po: 'utter_greet' has placeholders ['nombre'] "
        "but the English has ['name']"
    ]


def test_sms_answers_over_budget_fail(root: Path) -> None:
    long_arabic = "ادفع " * 60
    write_po(
        root,
        "ar",
        [*COMPLETE[:3], ("utter_faq/wages|channel=sms", "Pay: monthly.", long_arabic, False)],
    )

    [error] = run(root).errors
    assert error.startswith(
        "locales/ar/LC_MESSAGES/messages.po: 'utter_faq/wages|channel=sms' costs "
    )
    assert error.endswith("SMS segments (UCS-2); the budget is 3")


def test_broken_po_is_reported(root: Path) -> None:
    (root / "locales" / "tl" / "LC_MESSAGES" / "messages.po").write_text(
        'msgctxt "utter_greet"\nmsgid "Hello {name}."\nmsgstr "Kumusta {name}."\nnonsense here\n',
        encoding="utf-8",
    )

    assert run(root).errors == [
        "locales/tl/LC_MESSAGES/messages.po: line 4: not gettext syntax (a quote missing?): nonsense here"
    ]


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        ('msgid "x"\nmsgstr "y\n', 'line 6: not gettext syntax (a quote missing?): msgstr "y'),
        ('msgid "x"\nmsgstr y"\n', 'line 6: not gettext syntax (a quote missing?): msgstr y"'),
        (
            'msgctxt "utter_greet"\nmsgid "Hello {name}."\nmsgstr "Hi"\n',
            "line 6: the same message again (first at line 2)",
        ),
    ],
    ids=["unterminated", "unquoted", "duplicate"],
)
def test_po_mistakes_babel_would_swallow_are_reported(root: Path, tail: str, error: str) -> None:
    (root / "locales" / "tl" / "LC_MESSAGES" / "messages.po").write_text(
        'msgctxt "utter_greet"\nmsgid "Hello {name}."\nmsgstr "Kumusta {name}."\n\n' + tail,
        encoding="utf-8",
    )

    assert run(root).errors == [f"locales/tl/LC_MESSAGES/messages.po: {error}"]


def test_multi_line_messages_are_one_entry_each() -> None:
    text = (
        'msgid ""\nmsgstr ""\n"Language: tl\\n"\n\n'
        'msgctxt "a"\nmsgid ""\n"one "\n"two"\nmsgstr "x"\n\n'
        'msgctxt "a"\nmsgid ""\n"one "\n"three"\nmsgstr "y"\n'
    )

    assert po_syntax_errors(text) == []
    assert po_syntax_errors(text.replace('"three"', '"two"')) == [
        "line 12: the same message again (first at line 6)"
    ]


def test_stale_translation_after_the_english_changed_fails(root: Path) -> None:
    path = root / "locales" / "id" / "LC_MESSAGES" / "messages.po"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'msgctxt "utter_greet"\n', '#, fuzzy\n#| msgid "Hi {name}."\nmsgctxt "utter_greet"\n'
        ),
        encoding="utf-8",
    )

    report = run(root)

    assert report.errors == [
        "locales/id/LC_MESSAGES/messages.po: 'utter_greet': the English changed since it was "
        "translated (the old English is in its #| lines); update the translation, then delete "
        "those lines"
    ]
    assert report.coverage["id"].missing == 1
