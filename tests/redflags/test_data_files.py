"""The data files: lexicons, rules and the evaluation set follow their documented format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.redflags import CODES, DataError, build_engine
from bot.redflags.lexicon import DATA_DIR, language_files, load_lexicon, load_rules

TESTS = Path(__file__).resolve().parents[1]
EVAL = TESTS / "data" / "redflags"
LANGUAGES = ("en", "ar", "fr", "es", "tl", "id", "ne", "am")


def test_every_variant_of_every_lexicon_compiles():
    engine = build_engine(DATA_DIR)
    engine.compile_all()
    assert set(engine.languages) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_lexicon_file_says_its_review_state(lang):
    first = (DATA_DIR / f"{lang}.yml").read_text(encoding="utf-8").splitlines()[0]
    expected = "# review: done" if lang == "en" else "# review: needed"
    assert first.startswith(expected)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_lexicon_covers_every_code(lang):
    lexicon = load_lexicon(language_files()[lang])
    assert {p.code for p in lexicon.patterns} == set(CODES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_evaluation_file_is_complete(lang):
    lines = (EVAL / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip() and not line.startswith("#")]
    covered = {code for row in rows for code in row["codes"]}
    negatives = [row for row in rows if not row["codes"]]
    review_marked = any(line.startswith("# review: needed") for line in lines) or lang == "en"
    assert (len(rows) >= 30, covered, len(negatives) >= 8, review_marked) == (
        True,
        set(CODES),
        True,
        True,
    )
    assert all(row["risk"] == "none" for row in negatives)


def test_evaluation_readme_says_the_sets_need_native_review():
    text = (EVAL / "README.md").read_text(encoding="utf-8")
    assert "native speakers" in text


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_risk_rules_are_data(tmp_path):
    data = _copy_data(tmp_path)
    rules = (data / "rules.yml").read_text(encoding="utf-8")
    rules = rules.replace(
        "withholding_of_wages:              {severity: medium}",
        "withholding_of_wages:              {severity: strong}",
    )
    (data / "rules.yml").write_text(rules, encoding="utf-8")
    assert build_engine(data).analyze("no salary for 3 months", "en").risk == "high"


def test_a_new_pattern_is_picked_up(tmp_path):
    data = _copy_data(tmp_path)
    lexicon = (data / "en.yml").read_text(encoding="utf-8")
    lexicon = lexicon.replace(
        "  imminent_danger:\n", '  imminent_danger:\n    - "the house is on fire"\n', 1
    )
    (data / "en.yml").write_text(lexicon, encoding="utf-8")
    assert build_engine(data).analyze("help the house is on fire", "en").risk == "emergency"


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        (
            "en.yml",
            "  imminent_danger:\n",
            '  imminent_danger:\n    - "(broken"\n',
            "indicators.imminent_danger",
        ),
        (
            "en.yml",
            "  imminent_danger:\n",
            '  imminent_danger:\n    - "{nope} x"\n',
            "indicators.imminent_danger",
        ),
        ("en.yml", "  minor:\n", "  minor_or_not:\n", "indicators.minor_or_not"),
        ("en.yml", "language: en", "language: english", "language"),
        ("es.yml", 'before: ["no",', "before: [no,", "context.negation.before"),
        ("rules.yml", "min_codes: 2", "min_codes: two", "file"),
    ],
    ids=["syntax", "slot", "code", "language", "yaml-bool", "rules"],
)
def test_bad_data_is_reported_with_file_and_place(tmp_path, file, old, new, where):
    data = _copy_data(tmp_path)
    path = data / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises((DataError, ValueError)) as error:
        build_engine(data).compile_all()
    message = str(error.value)
    assert (file in message, where in message or where == "file") == (True, True)


def test_rules_file_loads():
    rules = load_rules(DATA_DIR / "rules.yml")
    assert set(rules.severity) == set(CODES)
