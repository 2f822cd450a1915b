"""Measure the trained Rasa model on the held-out NLU sets, one language at a time.

    .venv-rasa/bin/python -m bot.nlu_eval [--model models] [--data tests/data/nlu]
                                          [--check] [--confusions N] [--json PATH]

Runs in the Rasa runtime (it loads the model with Rasa's own Agent). Each
``tests/data/nlu/<lang>.yml`` is Rasa NLU data that is never used for training.
Two scores a language:

- intent: the core intents plus ``faq`` as one intent (what the dialogue sees);
- topic: for the ``faq/<topic>`` examples, the topic the response selector picked.

Accuracy and macro-F1 (the mean of per-label F1, so a rare label counts as much as a
frequent one) for both, the most frequent confusions, and with ``--check`` exit 1
when a macro-F1 is under the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_DATA = Path("tests/data/nlu")
DEFAULT_MODEL = Path("models")
TARGET_MACRO_F1 = 0.90
# Rasa's inline entity annotation, "[arabic](language)": the model sees the bare words.
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str  # "greet", "faq/wages", ...


def load_examples(path: Path) -> list[Example]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples = []
    for item in data.get("nlu", []):
        if "intent" not in item:
            continue
        for line in item["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = ENTITY_MARKUP.sub(r"\1", line[2:].strip())
                examples.append(Example(text, item["intent"]))
    return examples


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Mean F1 over the expected labels; a prediction outside them only costs precision."""
    labels = sorted({expected for expected, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for e, p in pairs if e == label and p == label)
        fp = sum(1 for e, p in pairs if e != label and p == label)
        fn = sum(1 for e, p in pairs if e == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    return sum(1 for e, p in pairs if e == p) / len(pairs) if pairs else 0.0


@dataclass
class LanguageScore:
    language: str
    intent_pairs: list[tuple[str, str]] = field(default_factory=list)
    topic_pairs: list[tuple[str, str]] = field(default_factory=list)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # text, expected, predicted

    def figures(self) -> dict[str, Any]:
        return {
            "examples": len(self.intent_pairs),
            "intent_accuracy": round(accuracy(self.intent_pairs), 3),
            "intent_macro_f1": round(macro_f1(self.intent_pairs), 3),
            "topic_examples": len(self.topic_pairs),
            "topic_accuracy": round(accuracy(self.topic_pairs), 3),
            "topic_macro_f1": round(macro_f1(self.topic_pairs), 3),
        }


def predicted_label(parse: dict[str, Any]) -> str:
    intent = (parse.get("intent") or {}).get("name") or "none"
    if intent != "faq":
        return str(intent)
    selected = (parse.get("response_selector") or {}).get("faq", {}).get("response", {})
    key = selected.get("intent_response_key")
    return str(key) if key else "faq"


def score(
    language: str, examples: Iterable[Example], parses: Iterable[dict[str, Any]]
) -> LanguageScore:
    result = LanguageScore(language)
    for example, parse in zip(examples, parses, strict=True):
        predicted = predicted_label(parse)
        expected_intent = example.intent.split("/")[0]
        result.intent_pairs.append((expected_intent, predicted.split("/")[0]))
        if example.intent.startswith("faq/"):
            result.topic_pairs.append((example.intent, predicted))
        if predicted != example.intent:
            result.misses.append((example.text, example.intent, predicted))
    return result


async def _parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent
    from rasa.model import get_local_model
    from rasa.utils.log_utils import configure_structlog

    # One debug line a message otherwise: the table is the output.
    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    agent = Agent.load(get_local_model(str(model)))
    return [await agent.parse_message(text) for text in texts]


def render(scores: Sequence[LanguageScore], confusions: int) -> str:
    lines = [
        "lang  examples  intent_acc  intent_F1  topics  topic_acc  topic_F1",
    ]
    for s in scores:
        f = s.figures()
        lines.append(
            f"{s.language:<4}  {f['examples']:>8}  {f['intent_accuracy']:>10.3f}  "
            f"{f['intent_macro_f1']:>9.3f}  {f['topic_examples']:>6}  "
            f"{f['topic_accuracy']:>9.3f}  {f['topic_macro_f1']:>8.3f}"
        )
    if confusions:
        for s in scores:
            common = Counter((e, p) for _, e, p in s.misses).most_common(confusions)
            if common:
                lines.append(f"\n{s.language}: most frequent confusions (expected -> predicted)")
                lines.extend(f"  {n:>3}  {e} -> {p}" for (e, p), n in common)
    return "\n".join(lines)


def failures(scores: Sequence[LanguageScore], target: float) -> list[str]:
    missed = []
    for s in scores:
        f = s.figures()
        for key in ("intent_macro_f1", "topic_macro_f1"):
            if f[key] < target:
                missed.append(f"{s.language}: {key} {f[key]:.3f} < {target:.2f}")
    return missed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--target", type=float, default=TARGET_MACRO_F1)
    parser.add_argument("--confusions", type=int, default=5, help="confusions shown per language")
    parser.add_argument("--json", type=Path, help="write the figures there")
    args = parser.parse_args(argv)

    sets = {path.stem: load_examples(path) for path in sorted(args.data.glob("*.yml"))}
    texts = [example.text for examples in sets.values() for example in examples]
    parses = iter(asyncio.run(_parse_all(args.model, texts)))
    scores = [
        score(language, examples, [next(parses) for _ in examples])
        for language, examples in sets.items()
    ]
    print(render(scores, args.confusions))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({s.language: s.figures() for s in scores}, indent=2))
    missed = failures(scores, args.target)
    for line in missed:
        print(f"target missed: {line}", file=sys.stderr)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
