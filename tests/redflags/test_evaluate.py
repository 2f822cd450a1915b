"""The evaluation command meets its targets on the labelled messages."""

from __future__ import annotations

import json
from pathlib import Path

from bot.redflags import evaluate

EVAL = Path(__file__).resolve().parents[1] / "data" / "redflags"


def test_targets_are_met_with_the_message_language():
    report = evaluate.evaluate(evaluate.load_examples(EVAL))
    assert report.failures() == []


def test_targets_are_met_without_a_language():
    report = evaluate.evaluate(evaluate.load_examples(EVAL), auto_language=True)
    assert report.failures() == []


def test_check_exits_zero(capsys):
    assert evaluate.main(["--data", str(EVAL), "--check"]) == 0
    assert "all targets met" in capsys.readouterr().out


def test_check_exits_non_zero_when_a_target_is_missed(tmp_path, capsys):
    line = {"text": "the weather is nice today", "codes": ["imminent_danger"], "risk": "emergency"}
    (tmp_path / "en.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert evaluate.main(["--data", str(tmp_path), "--check"]) == 1
    assert "imminent_danger recall 0.00" in capsys.readouterr().out


def test_bad_evaluation_file_is_an_error(tmp_path, capsys):
    (tmp_path / "en.jsonl").write_text(
        '{"text": "x", "codes": ["nope"], "risk": "none"}\n', encoding="utf-8"
    )
    assert evaluate.main(["--data", str(tmp_path)]) == 2
    assert "unknown codes" in capsys.readouterr().err
