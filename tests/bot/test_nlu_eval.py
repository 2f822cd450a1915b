"""The NLU evaluation's own arithmetic; the model itself is measured by `make eval-nlu`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import nlu_eval
from bot.nlu_eval import Example


def test_load_examples_strips_entity_markup(tmp_path: Path) -> None:
    path = tmp_path / "xx.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n  - intent: choose_language\n    examples: |\n'
        "      - in [arabic](language) please\n  - synonym: arabic\n    examples: |\n      - ar\n",
        encoding="utf-8",
    )

    assert nlu_eval.load_examples(path) == [Example("in arabic please", "choose_language")]


@pytest.mark.parametrize(
    ("parse", "expected"),
    [
        ({"intent": {"name": "greet"}}, "greet"),
        (
            {
                "intent": {"name": "faq"},
                "response_selector": {"faq": {"response": {"intent_response_key": "faq/wages"}}},
            },
            "faq/wages",
        ),
        ({"intent": {"name": "faq"}, "response_selector": {}}, "faq"),
        ({"intent": None}, "none"),
    ],
    ids=["core", "retrieval", "retrieval-without-selector", "no-intent"],
)
def test_predicted_label(parse: dict, expected: str) -> None:
    assert nlu_eval.predicted_label(parse) == expected


def test_macro_f1_weights_every_label_equally() -> None:
    pairs = [("a", "a")] * 8 + [("a", "b"), ("b", "b")]

    # a: tp 8, fn 1 -> F1 16/17; b: tp 1, fp 1 -> F1 2/3
    assert nlu_eval.macro_f1(pairs) == pytest.approx((16 / 17 + 2 / 3) / 2)
    assert nlu_eval.accuracy(pairs) == pytest.approx(0.9)


def test_score_splits_intents_and_topics_and_lists_misses() -> None:
    examples = [
        Example("hi", "greet"),
        Example("no pay", "faq/wages"),
        Example("pass", "faq/passport"),
    ]
    parses = [
        {"intent": {"name": "greet"}},
        {
            "intent": {"name": "faq"},
            "response_selector": {"faq": {"response": {"intent_response_key": "faq/wages"}}},
        },
        {
            "intent": {"name": "faq"},
            "response_selector": {"faq": {"response": {"intent_response_key": "faq/wages"}}},
        },
    ]

    score = nlu_eval.score("en", examples, parses)

    assert score.intent_pairs == [("greet", "greet"), ("faq", "faq"), ("faq", "faq")]
    assert score.topic_pairs == [("faq/wages", "faq/wages"), ("faq/passport", "faq/wages")]
    assert score.misses == [("pass", "faq/passport", "faq/wages")]
    assert nlu_eval.failures([score], 0.9) == ["en: topic_macro_f1 0.333 < 0.90"]


def test_every_language_has_a_held_out_set_apart_from_training() -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "nlu"
    root = data.parents[2]
    for language in ("en", "ar", "fr", "es", "tl", "id", "ne", "am"):
        held_out = {e.text.lower() for e in nlu_eval.load_examples(data / f"{language}.yml")}
        trained = {
            e.text.lower()
            for path in (root / "nlu_data" / language).glob("*.yml")
            for e in nlu_eval.load_examples(path)
        }
        assert len(held_out) >= 200, language
        assert held_out & trained == set(), language
