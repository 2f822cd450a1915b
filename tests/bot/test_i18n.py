from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import i18n
from bot.i18n import Catalogs, Translation
from tests.helpers.catalogs import write_catalog


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    locales = tmp_path / "locales"
    write_catalog(locales, "en", [("Hello", "Hello!", "utter_greet")])
    write_catalog(
        locales,
        "fr",
        [
            ("Hello", "Bonjour", "utter_greet"),
            ("Hello", "Salut", "utter_greet|channel=sms"),
            ("Your pay", "Votre salaire", "utter_faq/wages", True),
            ("Written by {name}", "Écrit par {name}", None),
            ("Untranslated", "", None),
        ],
    )
    return locales


def test_translation_is_found(locales: Path) -> None:
    assert Catalogs(locales).translate("fr", "Hello", "utter_greet") == Translation(
        "Bonjour", "fr", False
    )


def test_context_selects_the_entry(locales: Path) -> None:
    catalogs = Catalogs(locales)

    assert catalogs.translate("fr", "Hello", "utter_greet|channel=sms").text == "Salut"
    assert catalogs.translate("fr", "Hello").text == "Hello"


def test_fuzzy_translation_is_served_and_flagged(locales: Path) -> None:
    assert Catalogs(locales).translate("fr", "Your pay", "utter_faq/wages") == Translation(
        "Votre salaire", "fr", fuzzy=True
    )


@pytest.mark.parametrize(
    ("language", "msgid", "context", "expected"),
    [
        ("ar", "Hello", "utter_greet", Translation("Hello!", "en")),
        ("fr", "Untranslated", None, Translation("Untranslated", "en")),
        ("fr", "Not in any catalogue", None, Translation("Not in any catalogue", "en")),
        ("en", "Hello", "utter_greet", Translation("Hello!", "en")),
        ("en", "Not in any catalogue", None, Translation("Not in any catalogue", "en")),
    ],
    ids=["no-catalogue", "empty-msgstr", "missing-everywhere", "english", "english-missing"],
)
def test_missing_translation_falls_back_to_english(
    locales: Path, language: str, msgid: str, context: str | None, expected: Translation
) -> None:
    translation = Catalogs(locales).translate(language, msgid, context)

    assert translation == expected
    assert translation.fell_back is True


def test_has(locales: Path) -> None:
    catalogs = Catalogs(locales)

    assert (
        catalogs.has("fr", "Hello", "utter_greet"),
        catalogs.has("fr", "Untranslated"),
        catalogs.has("ar", "Hello", "utter_greet"),
        catalogs.has("en", "anything"),
    ) == (True, False, False, True)


def test_edited_catalogue_is_reloaded_without_restart(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "RELOAD_CHECK_SECONDS", 0)
    catalogs = Catalogs(locales)
    assert catalogs.translate("fr", "Hello", "utter_greet").text == "Bonjour"

    write_catalog(locales, "fr", [("Hello", "Bonjour à vous", "utter_greet")])
    write_catalog(locales, "ar", [("Hello", "مرحبا", "utter_greet")])

    assert catalogs.translate("fr", "Hello", "utter_greet").text == "Bonjour à vous"
    assert catalogs.translate("ar", "Hello", "utter_greet") == Translation("مرحبا", "ar")


def test_reload_is_checked_at_most_every_few_seconds(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "RELOAD_CHECK_SECONDS", 3600)
    catalogs = Catalogs(locales)

    write_catalog(locales, "fr", [("Hello", "Bonjour à vous", "utter_greet")])

    assert catalogs.translate("fr", "Hello", "utter_greet").text == "Bonjour"
    catalogs.refresh(force=True)
    assert catalogs.translate("fr", "Hello", "utter_greet").text == "Bonjour à vous"


def test_deleted_catalogue_falls_back_to_english(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "RELOAD_CHECK_SECONDS", 0)
    catalogs = Catalogs(locales)

    (locales / "fr" / "LC_MESSAGES" / "messages.po").unlink()

    assert catalogs.translate("fr", "Hello", "utter_greet") == Translation("Hello!", "en")


def test_gettext_function_fills_placeholders(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(locales))

    assert i18n._("fr", "Written by {name}", name="Amina") == "Écrit par Amina"
    assert i18n._("ar", "Written by {name}", name="Amina") == "Written by Amina"
    assert i18n._("fr", "Untranslated") == "Untranslated"


def test_translation_of_changed_english_is_kept_for_the_translator_but_not_served(
    tmp_path: Path,
) -> None:
    """What `make i18n-update` does when an editor rewords an answer."""
    locales = tmp_path / "locales"
    write_catalog(locales, "fr", [("Drink water.", "Buvez de l'eau.", "utter_faq/heat", True)])
    template = Catalog()
    template.add("Drink water often.", context="utter_faq/heat")
    with (locales / "messages.pot").open("wb") as handle:
        write_po(handle, template)

    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "update",
            "--input-file",
            str(locales / "messages.pot"),
            "--output-dir",
            str(locales),
            "--locale",
            "fr",
            "--previous",
            "--ignore-obsolete",
        ],
        check=True,
        capture_output=True,
    )

    po = (locales / "fr" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert '#| msgid "Drink water."' in po
    assert 'msgstr "Buvez de l\'eau."' in po
    assert Catalogs(locales).translate("fr", "Drink water often.", "utter_faq/heat") == Translation(
        "Drink water often.", "en"
    )


def test_every_message_of_the_catalogues_is_found_by_extraction(tmp_path: Path) -> None:
    """A message Babel cannot see (a constant without N_()) would be dropped by `make i18n-update`."""
    root = Path(__file__).resolve().parents[2]
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "--mapping",
            "babel.cfg",
            "--output-file",
            str(pot),
            "--no-default-keywords",
            # The keywords of the Makefile's i18n-extract.
            "--keyword",
            "_:2",
            "--keyword",
            "N_",
            "--keyword",
            "pgettext:1c,2",
            ".",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {(m.context, m.id) for m in read_po(handle) if m.id}
    for language in ("en", "fr", "ar", "am"):
        catalog = i18n.read_catalog(root / "locales" / language / "LC_MESSAGES" / "messages.po")
        in_catalog = {(m.context, m.id) for m in catalog if m.id}
        assert in_catalog - extracted == set(), language
        assert extracted - in_catalog == set(), language
