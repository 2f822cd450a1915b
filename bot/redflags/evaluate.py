"""Measure the engine against the labelled evaluation messages.

    python -m bot.redflags.evaluate [--data tests/data/redflags] [--check] [--auto-language]
                                    [--show-errors]

Each ``<lang>.jsonl`` file holds one ``{"text", "codes", "risk"}`` object a line (lines that
start with ``#`` are comments). Prints recall and precision per code and per language, the
share of negatives scored ``none``, imminent_danger recall per language and risk agreement.
With ``--check`` it exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import CODES, RISK_LEVELS, analyze

DEFAULT_DATA = Path("tests/data/redflags")

TARGETS = {
    "imminent_recall_per_language": 0.95,
    "recall": 0.90,
    "precision": 0.85,
    "negatives_none": 0.95,
}


@dataclass(frozen=True)
class Example:
    language: str
    line: int
    text: str
    codes: frozenset[str]
    risk: str


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


@dataclass
class Report:
    overall: Counts = field(default_factory=Counts)
    per_code: dict[str, Counts] = field(default_factory=dict)
    per_language: dict[str, Counts] = field(default_factory=dict)
    per_language_code: dict[tuple[str, str], Counts] = field(default_factory=dict)
    negatives: dict[str, list[int]] = field(default_factory=dict)  # language -> [none, total]
    risk_agreement: dict[str, list[int]] = field(default_factory=dict)  # language -> [same, total]
    errors: list[str] = field(default_factory=list)

    def imminent_recall(self, language: str) -> float | None:
        counts = self.per_language_code.get((language, "imminent_danger"))
        return counts.recall if counts else None

    def negatives_none(self) -> float | None:
        none = sum(v[0] for v in self.negatives.values())
        total = sum(v[1] for v in self.negatives.values())
        return none / total if total else None

    def failures(self) -> list[str]:
        missed = []
        for language in sorted(self.per_language):
            recall = self.imminent_recall(language)
            if recall is None:
                missed.append(f"{language}: no imminent_danger example to measure")
            elif recall < TARGETS["imminent_recall_per_language"]:
                missed.append(f"{language}: imminent_danger recall {recall:.2f} < 0.95")
        checks = (
            ("recall", self.overall.recall, TARGETS["recall"]),
            ("precision", self.overall.precision, TARGETS["precision"]),
            ("negatives scored none", self.negatives_none(), TARGETS["negatives_none"]),
        )
        for name, value, target in checks:
            if value is None or value < target:
                shown = "n/a" if value is None else f"{value:.3f}"
                missed.append(f"overall {name} {shown} < {target}")
        return missed


class DataFormatError(ValueError):
    pass


def load_examples(data_dir: Path) -> list[Example]:
    files = sorted(data_dir.glob("*.jsonl"))
    if not files:
        raise DataFormatError(f"{data_dir}: no *.jsonl files")
    examples = []
    for path in files:
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}:{number}: not JSON: {exc}") from exc
            codes = frozenset(item.get("codes", ()))
            if codes - set(CODES):
                raise DataFormatError(
                    f"{path}:{number}: unknown codes {sorted(codes - set(CODES))}"
                )
            risk = item.get("risk")
            if risk not in RISK_LEVELS:
                raise DataFormatError(f"{path}:{number}: risk must be one of {RISK_LEVELS}")
            if not isinstance(item.get("text"), str):
                raise DataFormatError(f"{path}:{number}: text must be a string")
            examples.append(Example(path.stem, number, item["text"], codes, risk))
    return examples


def evaluate(examples: Iterable[Example], auto_language: bool = False) -> Report:
    report = Report()
    for example in examples:
        analysis = analyze(example.text, None if auto_language else example.language)
        predicted = {i.code for i in analysis.indicators}
        language = example.language
        for code in set(CODES):
            expected = code in example.codes
            got = code in predicted
            if not (expected or got):
                continue
            buckets = (
                report.overall,
                report.per_code.setdefault(code, Counts()),
                report.per_language.setdefault(language, Counts()),
                report.per_language_code.setdefault((language, code), Counts()),
            )
            for bucket in buckets:
                if expected and got:
                    bucket.tp += 1
                elif got:
                    bucket.fp += 1
                else:
                    bucket.fn += 1
        report.per_language.setdefault(language, Counts())
        if not example.codes:
            tally = report.negatives.setdefault(language, [0, 0])
            tally[0] += analysis.risk == "none"
            tally[1] += 1
        agreement = report.risk_agreement.setdefault(language, [0, 0])
        agreement[0] += analysis.risk == example.risk
        agreement[1] += 1
        if predicted != example.codes or analysis.risk != example.risk:
            missing = sorted(example.codes - predicted)
            extra = sorted(predicted - example.codes)
            report.errors.append(
                f"{language}:{example.line} risk {analysis.risk} (expected {example.risk})"
                f" missing={missing} extra={extra}: {example.text}"
            )
    return report


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.2f}"


def render(report: Report) -> str:
    languages = sorted(report.per_language)
    lines = []
    header = f"{'code':36} " + " ".join(f"{lang:>9}" for lang in languages) + f" {'all':>9}"
    lines.append("recall/precision per code and language (R/P; '-' = nothing to measure)")
    lines.append(header)
    for code in CODES:
        cells = []
        for language in languages:
            counts = report.per_language_code.get((language, code), Counts())
            cells.append(f"{_fmt(counts.recall)}/{_fmt(counts.precision)}")
        code_total = report.per_code.get(code, Counts())
        cells.append(f"{_fmt(code_total.recall)}/{_fmt(code_total.precision)}")
        lines.append(f"{code:36} " + " ".join(f"{c:>9}" for c in cells))
    lines.append("")
    titles = ("language", "recall", "precis.", "neg none", "imminent", "risk ok")
    lines.append("{:10} {:>7} {:>7} {:>9} {:>9} {:>8}".format(*titles))
    for language in languages:
        per_language = report.per_language[language]
        none, total = report.negatives.get(language, [0, 0])
        same, seen = report.risk_agreement.get(language, [0, 0])
        imminent = _fmt(report.imminent_recall(language))
        lines.append(
            f"{language:10} {_fmt(per_language.recall):>7} {_fmt(per_language.precision):>7} "
            f"{f'{none}/{total}':>9} {imminent:>9} {f'{same}/{seen}':>8}"
        )
    none = sum(v[0] for v in report.negatives.values())
    total = sum(v[1] for v in report.negatives.values())
    same = sum(v[0] for v in report.risk_agreement.values())
    seen = sum(v[1] for v in report.risk_agreement.values())
    lines.append(
        f"{'all':10} {_fmt(report.overall.recall):>7} {_fmt(report.overall.precision):>7} "
        f"{f'{none}/{total}':>9} {'':>9} {f'{same}/{seen}':>8}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.redflags.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder of <lang>.jsonl files"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--auto-language",
        action="store_true",
        help="analyse without the file's language (all lexicons)",
    )
    parser.add_argument(
        "--show-errors", action="store_true", help="list every message scored differently"
    )
    args = parser.parse_args(argv)
    try:
        examples = load_examples(args.data)
    except (OSError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(examples, auto_language=args.auto_language)
    print(render(report))
    if args.show_errors and report.errors:
        print("\nmessages scored differently from their label:")
        for error in report.errors:
            print("  " + error)
    failures = report.failures()
    if failures:
        print("\ntargets missed:\n  " + "\n  ".join(failures))
    else:
        print("\nall targets met")
    return 1 if args.check and failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
