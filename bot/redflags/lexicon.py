"""Loading and checking the data files: one lexicon per language plus the risk rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .patterns import PatternError, compile_slot

DATA_DIR = Path(__file__).parent / "data"
RULES_FILE = "rules.yml"

CODES: tuple[str, ...] = (
    "abuse_of_vulnerability",
    "deception",
    "restriction_of_movement",
    "isolation",
    "physical_sexual_violence",
    "intimidation_threats",
    "retention_of_identity_documents",
    "withholding_of_wages",
    "debt_bondage",
    "abusive_working_living_conditions",
    "excessive_overtime",
    "imminent_danger",
    "minor",
)
SEVERITIES: tuple[str, ...] = ("weak", "medium", "strong")
RISK_LEVELS: tuple[str, ...] = ("none", "low", "medium", "high", "emergency")
CONTEXTS: tuple[str, ...] = ("negation", "resolved", "hypothetical", "question", "past")
CUE_PLACES: tuple[str, ...] = ("before", "after", "start", "gap")


class DataError(ValueError):
    """A lexicon or rules file that does not follow the documented format."""

    def __init__(self, path: Path | str, where: str, why: str) -> None:
        super().__init__(f"{path}: {where}: {why}")
        self.path = str(path)
        self.where = where
        self.why = why


@dataclass(frozen=True)
class PatternEntry:
    code: str
    pattern: str
    confidence: float | None
    severity: str | None


@dataclass(frozen=True)
class SlotSpec:
    words: tuple[str, ...]
    fuzzy: bool


@dataclass(frozen=True)
class Lexicon:
    language: str
    path: Path
    slot_specs: Mapping[str, SlotSpec]  # in file order: a slot may use the slots above it
    patterns: tuple[PatternEntry, ...]
    cues: Mapping[str, Mapping[str, tuple[str, ...]]]  # context -> place -> cue patterns
    clause_breaks: tuple[str, ...]

    def slots(self, script: str | None = None) -> dict[str, str | None]:
        """Slot name -> regex alternation (only entries of ``script`` when given)."""
        compiled: dict[str, str | None] = {}
        for name, spec in self.slot_specs.items():
            try:
                compiled[name] = compile_slot(spec.words, spec.fuzzy, compiled, name, script)
            except PatternError as exc:
                raise DataError(self.path, f"slots.{name}", str(exc)) from exc
        return compiled


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise DataError(path, "file", f"not valid YAML: {exc}") from exc


def _strings(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise DataError(path, where, "expected a list of words or phrases")
    for item in value:
        if isinstance(item, bool):
            # YAML reads bare no/yes/on/off as true/false
            raise DataError(
                path, where, f'{item!r} is a YAML boolean: put words like "no" or "on" in quotes'
            )
    return tuple(str(v) for v in value)


def load_lexicon(path: Path) -> Lexicon:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise DataError(path, "file", "expected a mapping with language, slots, indicators")
    language = data.get("language")
    if language != path.stem:
        raise DataError(path, "language", f"must be {path.stem!r} (the file name)")

    slot_specs: dict[str, SlotSpec] = {}
    raw_slots = data.get("slots") or {}
    if not isinstance(raw_slots, dict):
        raise DataError(path, "slots", "expected a mapping of slot name to word list")
    for name, spec in raw_slots.items():
        where = f"slots.{name}"
        fuzzy = False
        words = spec
        if isinstance(spec, dict):
            fuzzy = bool(spec.get("fuzzy", False))
            words = spec.get("words")
        slot_specs[str(name)] = SlotSpec(_strings(words, path, where), fuzzy)

    patterns: list[PatternEntry] = []
    raw_indicators = data.get("indicators") or {}
    if not isinstance(raw_indicators, dict):
        raise DataError(path, "indicators", "expected a mapping of code to patterns")
    for code, entries in raw_indicators.items():
        if code not in CODES:
            raise DataError(path, f"indicators.{code}", f"unknown code; known: {', '.join(CODES)}")
        if not isinstance(entries, list):
            raise DataError(path, f"indicators.{code}", "expected a list of patterns")
        for index, entry in enumerate(entries):
            where = f"indicators.{code}[{index}]"
            confidence = severity = None
            if isinstance(entry, dict):
                text = entry.get("pattern")
                confidence = entry.get("confidence")
                severity = entry.get("severity")
                if confidence is not None and not (
                    isinstance(confidence, (int, float)) and 0 < confidence <= 1
                ):
                    raise DataError(path, where, "confidence must be a number in (0, 1]")
                if severity is not None and severity not in SEVERITIES:
                    raise DataError(path, where, f"severity must be one of {SEVERITIES}")
            else:
                text = entry
            if not isinstance(text, (str, int)):
                raise DataError(path, where, "expected a pattern string or {pattern: ...}")
            patterns.append(
                PatternEntry(
                    code, str(text), None if confidence is None else float(confidence), severity
                )
            )

    cues: dict[str, dict[str, tuple[str, ...]]] = {}
    raw_context = data.get("context") or {}
    if not isinstance(raw_context, dict):
        raise DataError(path, "context", "expected a mapping")
    clause_breaks = _strings(raw_context.get("clause_breaks"), path, "context.clause_breaks")
    for name, places in raw_context.items():
        if name == "clause_breaks":
            continue
        if name not in CONTEXTS:
            raise DataError(
                path, f"context.{name}", f"unknown context; known: {', '.join(CONTEXTS)}"
            )
        if not isinstance(places, dict):
            raise DataError(path, f"context.{name}", f"expected keys among {CUE_PLACES}")
        cues[name] = {}
        for place, words in places.items():
            if place not in CUE_PLACES:
                raise DataError(path, f"context.{name}.{place}", f"expected one of {CUE_PLACES}")
            cues[name][place] = _strings(words, path, f"context.{name}.{place}")

    return Lexicon(str(language), path, slot_specs, tuple(patterns), cues, clause_breaks)


@dataclass(frozen=True)
class ContextRule:
    name: str
    factor: float
    scope: str  # clause | message
    before: int
    after: int
    start: int
    gaps: bool
    lowers_risk: bool
    exempt: frozenset[str]


@dataclass(frozen=True)
class RiskRule:
    level: str
    codes: frozenset[str]
    severity_at_least: str | None
    min_codes: int
    lowered_by_context: bool


@dataclass(frozen=True)
class Rules:
    severity: Mapping[str, str]
    default_confidence: float
    min_confidence: float
    contexts: tuple[ContextRule, ...]
    risk: tuple[RiskRule, ...]
    lower_by: int


def _number(spec: dict[str, Any], key: str, default: float, path: Path, where: str) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(path, f"{where}.{key}", f"expected a number, not {value!r}")
    return value


def load_rules(path: Path) -> Rules:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise DataError(path, "file", "expected a mapping")

    raw_codes = data.get("codes") or {}
    severity: dict[str, str] = {}
    for code in CODES:
        spec = raw_codes.get(code)
        if not isinstance(spec, dict) or spec.get("severity") not in SEVERITIES:
            raise DataError(path, f"codes.{code}", f"needs severity: one of {SEVERITIES}")
        severity[code] = spec["severity"]
    unknown = set(raw_codes) - set(CODES)
    if unknown:
        raise DataError(path, "codes", f"unknown codes {sorted(unknown)}")

    contexts = []
    for name, spec in (data.get("contexts") or {}).items():
        if name not in CONTEXTS or not isinstance(spec, dict):
            raise DataError(path, f"contexts.{name}", f"unknown context; known: {CONTEXTS}")
        exempt = frozenset(_strings(spec.get("exempt"), path, f"contexts.{name}.exempt"))
        if exempt - set(CODES):
            raise DataError(
                path, f"contexts.{name}.exempt", f"unknown codes {sorted(exempt - set(CODES))}"
            )
        scope = spec.get("scope", "clause")
        if scope not in ("clause", "message"):
            raise DataError(path, f"contexts.{name}.scope", "clause or message")
        contexts.append(
            ContextRule(
                name=name,
                factor=float(_number(spec, "factor", 0.0, path, f"contexts.{name}")),
                scope=scope,
                before=int(_number(spec, "before", 0, path, f"contexts.{name}")),
                after=int(_number(spec, "after", 0, path, f"contexts.{name}")),
                start=int(_number(spec, "start", 0, path, f"contexts.{name}")),
                gaps=bool(spec.get("gaps", False)),
                lowers_risk=bool(spec.get("lowers_risk", False)),
                exempt=exempt,
            )
        )

    risk = []
    for index, spec in enumerate(data.get("risk") or []):
        where = f"risk[{index}]"
        if not isinstance(spec, dict) or spec.get("level") not in RISK_LEVELS:
            raise DataError(path, where, f"needs level: one of {RISK_LEVELS}")
        codes = frozenset(_strings(spec.get("codes"), path, f"{where}.codes"))
        if codes - set(CODES):
            raise DataError(path, f"{where}.codes", f"unknown codes {sorted(codes - set(CODES))}")
        at_least = spec.get("severity_at_least")
        if at_least is not None and at_least not in SEVERITIES:
            raise DataError(path, f"{where}.severity_at_least", f"one of {SEVERITIES}")
        if not codes and at_least is None:
            raise DataError(path, where, "needs codes or severity_at_least")
        risk.append(
            RiskRule(
                level=spec["level"],
                codes=codes,
                severity_at_least=at_least,
                min_codes=int(_number(spec, "min_codes", 1, path, where)),
                lowered_by_context=bool(spec.get("lowered_by_context", True)),
            )
        )
    if not risk:
        raise DataError(path, "risk", "needs at least one rule")

    return Rules(
        severity=severity,
        default_confidence=float(_number(data, "default_confidence", 0.9, path, "file")),
        min_confidence=float(_number(data, "min_confidence", 0.4, path, "file")),
        contexts=tuple(contexts),
        risk=tuple(risk),
        lower_by=int(_number(data, "lower_by", 1, path, "file")),
    )


def language_files(data_dir: Path = DATA_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir.glob("*.yml")) if p.name != RULES_FILE}
