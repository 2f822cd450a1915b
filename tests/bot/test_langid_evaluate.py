"""The language-identification measurement's own bookkeeping."""

from __future__ import annotations

from bot import worker
from bot.langid import evaluate


def test_switch_rule_is_the_workers() -> None:
    assert (evaluate.SWITCH_MIN_WORDS, evaluate.SWITCH_MIN_CONFIDENCE) == (
        worker.SWITCH_MIN_WORDS,
        worker.SWITCH_MIN_CONFIDENCE,
    )


def test_tally_counts_short_messages_and_confident_switches() -> None:
    tally = evaluate.Tally()
    tally.add("hi", "en", ("en", 0.5))
    tally.add("ok po", "tl", ("en", 0.99))
    tally.add("my salary is not paid since march", "en", ("en", 0.99))
    tally.add("gaji saya belum dibayar dua bulan", "id", ("ms", 0.97))

    assert tally.figures() == {
        "accuracy": 0.5,
        "short_accuracy": 0.5,
        "switch_precision": 0.5,
        "switch_coverage": 0.5,
    }


def test_measure_and_render_every_language() -> None:
    sets = {"en": ["my salary is late", "hello"], "ar": ["راتبي ما وصل"]}

    result = evaluate.measure("bot.langid", evaluate.ours, sets)
    table = evaluate.render([result])

    assert result.per_language["en"].total == 2
    assert result.per_language["ar"].right == 1
    assert "bot.langid" in table and "ar" in table
