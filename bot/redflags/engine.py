"""The compiled red-flag engine: patterns, context cues and risk rules, built once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lexicon import (
    CODES,
    DATA_DIR,
    RISK_LEVELS,
    RULES_FILE,
    SEVERITIES,
    ContextRule,
    DataError,
    Lexicon,
    Rules,
    language_files,
    load_lexicon,
    load_rules,
)
from .normalize import SCRIPTS, Normalized, normalize, scripts_in
from .patterns import SEP, PatternError, bounded, compile_full, compile_pattern

ALIASES = {"fil": "tl", "in": "id"}
FALLBACK = "en"

_SEP = re.compile(SEP)
_CLAUSE_PUNCT = re.compile(r"[,.?]")


@dataclass(frozen=True)
class Indicator:
    code: str
    severity: str
    evidence: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "evidence": self.evidence,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Analysis:
    indicators: tuple[Indicator, ...]
    risk: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators)

    def to_dict(self) -> dict[str, Any]:
        return {"indicators": [i.to_dict() for i in self.indicators], "risk": self.risk}


@dataclass(frozen=True)
class _PatternInfo:
    code: str
    language: str
    pattern: str
    confidence: float
    severity: str
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class _Hit:
    code: str
    start: int
    end: int
    confidence: float
    severity: str
    lowered: bool


class _Cues:
    """The cue regexes of one language (its own cues plus English ones) for each context."""

    def __init__(self, lexicons: list[Lexicon]) -> None:
        self.regex: dict[tuple[str, str], re.Pattern[str] | None] = {}
        merged: dict[tuple[str, str], list[str]] = {}
        breaks: list[str] = []
        for lexicon in lexicons:
            breaks.extend(lexicon.clause_breaks)
            for context, places in lexicon.cues.items():
                for place, words in places.items():
                    merged.setdefault((context, place), []).extend(words)
        for key, all_words in merged.items():
            where = f"{lexicons[0].path} context.{key[0]}.{key[1]}"
            self.regex[key] = _alternation(all_words, where)
        self.breaks = _alternation(breaks, f"{lexicons[0].path} context.clause_breaks")

    def get(self, context: str, place: str) -> re.Pattern[str] | None:
        return self.regex.get((context, place))


def _alternation(cues: Iterable[str], where: str) -> re.Pattern[str] | None:
    parts = []
    for cue in dict.fromkeys(cues):
        try:
            parts.append(compile_full(cue, {}, "cue").regex)
        except PatternError as exc:
            raise DataError(where, cue, str(exc)) from exc
    if not parts:
        return None
    return re.compile(bounded("|".join(parts)))


def _tokens_before(text: str, position: int) -> int:
    """How many words of text come before position."""
    return len([w for w in _SEP.split(text[:position]) if w])


_Compiled = list[tuple[re.Pattern[str], dict[str, _PatternInfo]]]


class Engine:
    """All lexicons and rules, compiled.

    Each lexicon is compiled once per script (Latin, Arabic, Devanagari, Ethiopic) keeping only
    the parts of its patterns that can occur in text of that script, plus once whole for text
    that mixes scripts; a message runs only the variant its script needs. Variants are
    compiled on first use and then kept.
    """

    def __init__(self, lexicons: Mapping[str, Lexicon], rules: Rules) -> None:
        self.languages = tuple(lexicons)
        self.rules = rules
        self._lexicons = dict(lexicons)
        self._severity_rank = {s: i for i, s in enumerate(SEVERITIES)}
        self._level_rank = {s: i for i, s in enumerate(RISK_LEVELS)}
        self._code_order = {c: i for i, c in enumerate(CODES)}
        self._regexes: dict[tuple[str, str | None], _Compiled] = {}
        self._cues: dict[str, _Cues] = {}
        english = [lexicons[FALLBACK]] if FALLBACK in lexicons else []
        for language, lexicon in lexicons.items():
            own = [lexicon] + [e for e in english if e is not lexicon]
            self._cues[language] = _Cues(own)

    def compile_all(self) -> None:
        """Compile every variant now (to check the data, or to warm up a server)."""
        for language in self.languages:
            for script in (None, *SCRIPTS):
                self._compiled(language, script)

    def _compiled(self, language: str, script: str | None) -> _Compiled:
        key = (language, script)
        if key not in self._regexes:
            self._regexes[key] = self._compile(self._lexicons[language], script)
        return self._regexes[key]

    def _compile(self, lexicon: Lexicon, script: str | None) -> _Compiled:
        slots = lexicon.slots(script)
        by_code: dict[str, list[tuple[str, str, _PatternInfo]]] = {}
        for index, entry in enumerate(lexicon.patterns):
            name = f"p{index}"
            try:
                compiled = compile_pattern(entry.pattern, slots, f"{name}g", script)
            except PatternError as exc:
                raise DataError(lexicon.path, f"indicators.{entry.code}", str(exc)) from exc
            if compiled is None:
                continue
            info = _PatternInfo(
                code=entry.code,
                language=lexicon.language,
                pattern=entry.pattern,
                confidence=entry.confidence or self.rules.default_confidence,
                severity=entry.severity or self.rules.severity[entry.code],
                gaps=tuple(compiled.gap_groups),
            )
            by_code.setdefault(entry.code, []).append((name, f"(?P<{name}>{compiled.regex})", info))
        result: _Compiled = []
        for code in CODES:
            alternatives = by_code.get(code)
            if alternatives:
                regex = re.compile(bounded("|".join(a for _, a, _ in alternatives)))
                result.append((regex, {name: info for name, _, info in alternatives}))
        return result

    # -- public -----------------------------------------------------------------------

    def resolve_languages(self, language: str | None) -> tuple[str, ...]:
        """The lexicons to run: the given language plus English, or all when unknown."""
        if language:
            code = language.strip().lower().replace("_", "-").split("-")[0]
            code = ALIASES.get(code, code)
            if code in self._lexicons:
                wanted = [code, FALLBACK] if FALLBACK in self._lexicons else [code]
                return tuple(dict.fromkeys(wanted))
        return self.languages

    def analyze(self, text: str, language: str | None = None) -> Analysis:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        norm = normalize(text)
        if not norm.text:
            return Analysis((), "none")
        languages = self.resolve_languages(language)
        breaks = self._clause_breaks(norm.text, languages)

        scripts = scripts_in(norm.text)
        script = next(iter(scripts)) if len(scripts) == 1 else None

        hits: dict[tuple[str, int, int], _Hit] = {}
        for lang in languages:
            cues = self._cues[lang]
            for regex, infos in self._compiled(lang, script):
                for match in regex.finditer(norm.text):
                    info = infos[match.lastgroup or ""]
                    hit = self._judge(norm, match, info, cues, breaks)
                    if hit is None:
                        continue
                    key = (hit.code, hit.start, hit.end)
                    if key not in hits or hits[key].confidence < hit.confidence:
                        hits[key] = hit
        indicators, reported, lowered = self._combine(norm, hits.values())
        return Analysis(indicators, self._risk(indicators, reported, lowered))

    # -- matching ---------------------------------------------------------------------

    def _clause_breaks(self, text: str, languages: tuple[str, ...]) -> list[tuple[int, int]]:
        spans = [(m.start(), m.end()) for m in _CLAUSE_PUNCT.finditer(text)]
        for lang in languages:
            regex = self._cues[lang].breaks
            if regex is not None:
                spans.extend((m.start(), m.end()) for m in regex.finditer(text))
        return sorted(set(spans))

    @staticmethod
    def _clause(
        breaks: list[tuple[int, int]], start: int, end: int, length: int
    ) -> tuple[int, int]:
        clause_start, clause_end = 0, length
        for b_start, b_end in breaks:
            if b_end <= start:
                clause_start = max(clause_start, b_end)
            elif b_start >= end:
                clause_end = min(clause_end, b_start)
        return clause_start, clause_end

    def _judge(
        self,
        norm: Normalized,
        match: re.Match[str],
        info: _PatternInfo,
        cues: _Cues,
        breaks: list[tuple[int, int]],
    ) -> _Hit | None:
        text = norm.text
        start, end = match.span()
        clause_start, clause_end = self._clause(breaks, start, end, len(text))
        factor = 1.0
        lowered = False
        for rule in self.rules.contexts:
            if info.code in rule.exempt:
                continue
            if not self._context_applies(rule, cues, text, match, info, clause_start, clause_end):
                continue
            factor *= rule.factor
            lowered = lowered or rule.lowers_risk
        confidence = info.confidence * factor
        if confidence <= 0:
            return None
        return _Hit(info.code, start, end, confidence, info.severity, lowered)

    @staticmethod
    def _context_applies(
        rule: ContextRule,
        cues: _Cues,
        text: str,
        match: re.Match[str],
        info: _PatternInfo,
        clause_start: int,
        clause_end: int,
    ) -> bool:
        start, end = match.span()
        if rule.scope == "message":
            clause_start, clause_end = 0, len(text)
        negation = cues.get("negation", "before") if rule.name != "negation" else None

        def counts(window: str, cue: re.Match[str]) -> bool:
            """A cue that is itself negated ("has not returned it") does not count."""
            if negation is None:
                return True
            head = " ".join(w for w in _SEP.split(window[: cue.start()]) if w).split(" ")[-2:]
            return negation.search(" ".join(head)) is None

        before_cues = cues.get(rule.name, "before")
        if before_cues is not None and rule.before:
            window = text[clause_start:start]
            total = _tokens_before(window, len(window))
            for cue in before_cues.finditer(window):
                if _tokens_before(window, cue.start()) >= total - rule.before and counts(
                    window, cue
                ):
                    return True
        gap_cues = [
            c for c in (before_cues if rule.gaps else None, cues.get(rule.name, "gap")) if c
        ]
        for gap in info.gaps:
            skipped = (match.group(gap) or "").strip(" ,")
            if skipped and any(c.search(skipped) for c in gap_cues):
                return True
        start_cues = cues.get(rule.name, "start")
        if start_cues is not None and rule.start:
            window = text[clause_start:start]
            for cue in start_cues.finditer(window):
                if _tokens_before(window, cue.start()) < rule.start:
                    return True
        after_cues = cues.get(rule.name, "after")
        if after_cues is not None and rule.after:
            window = text[end:clause_end]
            for cue in after_cues.finditer(window):
                if _tokens_before(window, cue.start()) >= rule.after:
                    break
                if counts(window, cue):
                    return True
        return False

    # -- combining ----------------------------------------------------------------------

    def _combine(
        self, norm: Normalized, hits: Iterable[_Hit]
    ) -> tuple[tuple[Indicator, ...], set[str], set[str]]:
        by_code: dict[str, list[_Hit]] = {}
        for hit in hits:
            by_code.setdefault(hit.code, []).append(hit)
        indicators = []
        reported: set[str] = set()
        lowered: set[str] = set()
        for code, code_hits in by_code.items():
            missing = 1.0
            for hit in code_hits:
                missing *= 1.0 - hit.confidence
            confidence = round(1.0 - missing, 2)
            if confidence < self.rules.min_confidence:
                continue
            best = max(code_hits, key=lambda h: (h.confidence, -h.start))
            severity = max((h.severity for h in code_hits), key=self._severity_rank.__getitem__)
            indicators.append(
                Indicator(code, severity, norm.original_text(best.start, best.end), confidence)
            )
            if all(h.lowered for h in code_hits):
                lowered.add(code)
            else:
                reported.add(code)
        indicators.sort(
            key=lambda i: (
                -self._severity_rank[i.severity],
                -i.confidence,
                self._code_order[i.code],
            )
        )
        return tuple(indicators), reported, lowered

    def _level(self, indicators: Iterable[Indicator], only_fixed: bool = False) -> int:
        items = list(indicators)
        best = 0
        for rule in self.rules.risk:
            if only_fixed and rule.lowered_by_context:
                continue
            codes = set()
            for indicator in items:
                if rule.codes and indicator.code not in rule.codes:
                    continue
                if rule.severity_at_least and (
                    self._severity_rank[indicator.severity]
                    < self._severity_rank[rule.severity_at_least]
                ):
                    continue
                codes.add(indicator.code)
            if len(codes) >= rule.min_codes:
                best = max(best, self._level_rank[rule.level])
        return best

    def _risk(
        self, indicators: tuple[Indicator, ...], reported: set[str], lowered: set[str]
    ) -> str:
        if not indicators:
            return "none"
        everything = self._level(indicators)
        fixed = self._level(indicators, only_fixed=True)
        from_reports = self._level(i for i in indicators if i.code in reported)
        level = (
            everything
            if not lowered
            else max(fixed, from_reports, everything - self.rules.lower_by)
        )
        return RISK_LEVELS[max(level, 0)]


def build_engine(data_dir: Path = DATA_DIR) -> Engine:
    files = language_files(data_dir)
    if not files:
        raise DataError(data_dir, "directory", "no lexicon files found")
    lexicons = {language: load_lexicon(path) for language, path in files.items()}
    rules = load_rules(data_dir / RULES_FILE)
    return Engine(lexicons, rules)
