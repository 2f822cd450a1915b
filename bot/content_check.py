"""``helpline content check``: is the content complete and sound in every language?

Fails, naming the file and what to do, on: an intent with too few examples in a
language, a response without a translation (or a documented fallback), placeholders
that differ between a text and its translation, SMS answers over their segment
budget, and broken ``.po`` files. Prints a coverage table per language; unreviewed
(``#, fuzzy``) translations are counted and reported, not failed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from babel.messages.pofile import PoFileError

from bot.content import BUTTON, Variant, load_responses
from bot.i18n import STALE, read_catalog
from bot.languages import FALLBACK, SUPPORTED
from channels import sms

MIN_EXAMPLES = 15
# An answer written for SMS (a `channel: sms` variant) may cost at most this many segments.
SMS_SEGMENT_BUDGET = 3
PLACEHOLDER = re.compile(r"\{(\w+)\}")
FALLBACKS_FILE = "fallbacks.yml"
# Babel's reader accepts an unterminated or unquoted string as an empty one and keeps
# the first of two duplicate entries: a translation lost without a word. These
# patterns check every line of a catalogue first.
_PO_STRING = r'"(?:[^"\\]|\\.)*"'
_PO_KEYWORD_LINE = re.compile(
    rf"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)[ \t]+{_PO_STRING}[ \t]*$"
)
_PO_CONTINUATION = re.compile(rf"^{_PO_STRING}[ \t]*$")


@dataclass
class Coverage:
    translated: int = 0
    reviewed: int = 0
    missing: int = 0
    fallback: int = 0


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    coverage: dict[str, Coverage] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        lines = ["language  translated  reviewed  missing  fallback"]
        for language, c in self.coverage.items():
            lines.append(
                f"{language:<9} {c.translated:>10}  {c.reviewed:>8}  {c.missing:>7}  {c.fallback:>8}"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        lines.extend(f"error: {error}" for error in self.errors)
        lines.append(
            "content check passed"
            if self.ok
            else f"content check failed: {len(self.errors)} errors"
        )
        return "\n".join(lines)


def intent_examples(folder: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(folder.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            if "intent" in item:
                lines = [
                    x
                    for x in str(item.get("examples", "")).splitlines()
                    if x.strip().startswith("- ")
                ]
                counts[str(item["intent"])] += len(lines)
    return counts


def expected_intents(root: Path, responses: dict[str, list[Variant]]) -> list[str]:
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    core = [str(i) if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []]
    topics = sorted(
        name.removeprefix("utter_") for name in responses if name.startswith("utter_faq/")
    )
    return [i for i in core if i != "faq"] + topics


def check_examples(root: Path, report: Report, intents: list[str]) -> None:
    for language in SUPPORTED:
        folder = root / "nlu_data" / language
        counts = intent_examples(folder)
        for intent in intents:
            if counts[intent] < MIN_EXAMPLES:
                report.errors.append(
                    f"nlu_data/{language}/: intent {intent} has {counts[intent]} examples "
                    f"(at least {MIN_EXAMPLES} needed)"
                )


def documented_fallbacks(locales: Path) -> dict[str, set[str]]:
    """Responses a language knowingly leaves in English, each with a reason."""
    path = locales / FALLBACKS_FILE
    if not path.is_file():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {lang: set((entries or {}).keys()) for lang, entries in document.items()}


def check_translations(root: Path, report: Report, responses: dict[str, list[Variant]]) -> None:
    locales = root / "locales"
    fallbacks = documented_fallbacks(locales)
    sources: list[tuple[str, str]] = []
    for variants in responses.values():
        for variant in variants:
            sources.append((variant.context, variant.text))
            sources.extend((f"{variant.response}|{BUTTON}", b.title) for b in variant.buttons)
    for language in SUPPORTED:
        coverage = report.coverage.setdefault(language, Coverage())
        path = locales / language / "LC_MESSAGES" / "messages.po"
        if language == FALLBACK and not path.is_file():
            coverage.translated = coverage.reviewed = len(sources)
            continue
        try:
            syntax = po_syntax_errors(path.read_text(encoding="utf-8"))
            if syntax:
                report.errors.extend(f"{path.relative_to(root)}: {error}" for error in syntax)
                continue
            catalog = read_catalog(path, abort_invalid=True)
        except FileNotFoundError:
            report.errors.append(f"{path.relative_to(root)}: missing (run `make i18n-update`)")
            continue
        except (PoFileError, ValueError, UnicodeDecodeError) as error:
            report.errors.append(f"{path.relative_to(root)}: cannot be read: {error}")
            continue
        fuzzy = 0
        for context, msgid in sources:
            message = catalog.get(msgid, context=context)
            translated = message is not None and isinstance(message.string, str) and message.string
            if language == FALLBACK:
                coverage.translated += 1
                coverage.reviewed += 1
                continue
            if not translated:
                if context in fallbacks.get(language, set()):
                    coverage.fallback += 1
                else:
                    coverage.missing += 1
                    report.errors.append(
                        f"{path.relative_to(root)}: no translation of {context!r} "
                        f"(translate it, or list it in locales/{FALLBACKS_FILE} with a reason)"
                    )
                continue
            assert message is not None and isinstance(message.string, str)
            if STALE in message.flags:
                coverage.missing += 1
                report.errors.append(
                    f"{path.relative_to(root)}: {context!r}: the English changed since it was "
                    "translated (the old English is in its #| lines); update the translation, "
                    "then delete those lines"
                )
                continue
            coverage.translated += 1
            if message.fuzzy:
                fuzzy += 1
            else:
                coverage.reviewed += 1
            if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(message.string)):
                report.errors.append(
                    f"{path.relative_to(root)}: {context!r} has placeholders "
                    f"{sorted(set(PLACEHOLDER.findall(message.string)))} but the English has "
                    f"{sorted(set(PLACEHOLDER.findall(msgid)))}"
                )
            if "channel=sms" in context:
                check_sms(report, f"{path.relative_to(root)}: {context!r}", message.string)
        if fuzzy:
            report.notes.append(
                f"{language}: {fuzzy} translations await review by a native speaker (#, fuzzy)"
            )


def po_syntax_errors(text: str) -> list[str]:
    """Lines that are not gettext syntax, and entries defined twice, with line numbers."""
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    parts: dict[str, str] = {}  # keyword -> its text, for the entry being read
    current, started = "", 0

    def finish_msgid() -> None:
        if current == "msgid" and parts["msgid"]:
            key = (parts.get("msgctxt", ""), parts["msgid"])
            if key in seen:
                errors.append(f"line {started}: the same message again (first at line {seen[key]})")
            seen.setdefault(key, started)

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword = _PO_KEYWORD_LINE.match(stripped)
        if keyword is None and not _PO_CONTINUATION.match(stripped):
            errors.append(f"line {number}: not gettext syntax (a quote missing?): {stripped[:60]}")
            continue
        if keyword is None:
            parts[current] = parts.get(current, "") + stripped
            continue
        finish_msgid()
        if keyword.group(1) in ("msgctxt", "msgid") and current.startswith("msgstr"):
            parts = {}
        current, started = keyword.group(1), number
        parts[current] = stripped[len(current) :].strip()
    finish_msgid()
    return errors


def check_sms(report: Report, where: str, text: str) -> None:
    cost = sms.segments(text)
    if cost > SMS_SEGMENT_BUDGET:
        report.errors.append(
            f"{where} costs {cost} SMS segments ({sms.encoding(text)}); the budget is {SMS_SEGMENT_BUDGET}"
        )


def run(root: Path) -> Report:
    report = Report()
    responses = load_responses(root)
    check_examples(root, report, expected_intents(root, responses))
    check_translations(root, report, responses)
    for variants in responses.values():
        for variant in variants:
            if variant.channel == "sms":
                check_sms(report, f"English {variant.context!r}", variant.text)
    return report
