from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analyze import analyze_lines

HELPLINE = Path(sys.executable).parent / "helpline"


def run(*records: object) -> list[dict]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return [json.loads(line) for line in analyze_lines(lines)]


def test_output_has_exactly_the_contract_fields() -> None:
    [result] = run({"text": "madam took my passport and locks me inside", "language": "en"})

    assert result == {
        "language": "en",
        "language_confidence": 1.0,
        "indicators": [
            {
                "code": "restriction_of_movement",
                "severity": "strong",
                "evidence": "locks me inside",
                "confidence": result["indicators"][0]["confidence"],
            },
            {
                "code": "retention_of_identity_documents",
                "severity": "strong",
                "evidence": "madam took my passport",
                "confidence": result["indicators"][1]["confidence"],
            },
        ],
        "risk": "high",
    }
    assert all(0 < i["confidence"] <= 1 for i in result["indicators"])


@pytest.mark.parametrize(
    ("record", "risk"),
    [
        ({"text": "I want to kill myself"}, "emergency"),
        ({"text": "can an employer keep my passport?", "language": "en"}, "none"),
        ({"text": "my employer pays on time", "language": "fil"}, "none"),
        ({"text": "", "language": "en"}, "none"),
        ({"text": "🙏🙏"}, "none"),
    ],
    ids=["imminent-danger", "rights-question", "alias-language", "empty", "emoji"],
)
def test_risk(record: dict, risk: str) -> None:
    [result] = run(record)

    assert result["risk"] == risk
    assert 0.0 <= result["language_confidence"] <= 1.0


def test_alias_is_normalised() -> None:
    assert run({"text": "kumusta", "language": "fil"})[0]["language"] == "tl"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json", "line 1 is not JSON: Expecting value"),
        ("[1, 2]", "line 1 is not a JSON object"),
        ('{"language": "en"}', 'each line needs a "text" string'),
    ],
    ids=["not-json", "not-object", "no-text"],
)
def test_bad_lines_get_an_error_line_and_the_rest_goes_on(line: str, error: str) -> None:
    results = run(line, {"text": "hello", "language": "en"})

    assert results[0] == {"error": error}
    assert results[1]["risk"] == "none"


def test_command_reads_stdin_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(HELPLINE), "analyze"],
        input='{"text": "they lock the door when they go out"}\nbroken\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("risk") for line in lines] == ["high", None]
    # Analysing needs no configuration: nothing is written where it runs.
    assert list(tmp_path.iterdir()) == []
