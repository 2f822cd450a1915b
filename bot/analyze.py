"""``helpline analyze``: JSON lines in, one JSON line out per input (contract section 6)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from bot import langid, redflags
from bot.languages import FALLBACK, normalise


def analyze_record(record: dict[str, Any]) -> dict[str, Any]:
    text = record.get("text")
    if not isinstance(text, str):
        return {"error": 'each line needs a "text" string'}
    given = normalise(record.get("language")) if isinstance(record.get("language"), str) else None
    if given is not None:
        language, confidence = given, 1.0
    else:
        guess = langid.identify(text)
        language = guess.language or FALLBACK
        confidence = round(guess.confidence, 3) if guess.supported else 0.0
    # Without a stated language every lexicon runs: people mix languages.
    analysis = redflags.analyze(text, given)
    return {"language": language, "language_confidence": confidence, **analysis.to_dict()}


def analyze_lines(lines: Iterable[str]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            result: dict[str, Any] = {"error": f"line {number} is not JSON: {error.msg}"}
        else:
            result = (
                analyze_record(record)
                if isinstance(record, dict)
                else {"error": f"line {number} is not a JSON object"}
            )
        yield json.dumps(result, ensure_ascii=False)
