"""The small pattern language that content editors write in the lexicon files.

    {holder} ... (keep*|took|has) my {document}

| syntax        | meaning                                                             |
|---------------|---------------------------------------------------------------------|
| words         | words as people write them; case, accents and spelling variants are  |
|               | normalised the same way as the message                              |
| space         | one or more spaces or commas between words                          |
| `{slot}`      | any entry of the slot word list `slot` of the same file              |
| `(a|b c|d)`   | one of the alternatives                                              |
| `[a b]`       | optional words                                                       |
| `...`         | up to 3 other words (`...5`: up to 5)                                 |
| `word*`       | word followed by any letters (`lock*`: lock, locked, locks)           |
| `*word`       | any letters then word (Arabic and Amharic prefixes: `*جواز*`)         |
| `word~`       | also one letter missing, extra, swapped or wrong (words of 5+ letters)|
| `<number>`    | a number written in digits                                          |
| `<minor_age>` | a number from 5 to 17                                               |

A pattern is compiled to a regular expression over the normalised text; the words skipped by
`...` are captured so that a negation hidden there ("madam did not take my passport") is seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .normalize import normalize_text, scripts_in

WORD_CHAR = r"[^ ,.?]"
SEP = r"[ ,]+"
DEFAULT_GAP = 3
FUZZY_MIN_LENGTH = 5

_BUILTINS = {
    "number": r"\d+(?:[.,]\d+)*",
    "minor_age": r"(?:[5-9]|1[0-7])",
}

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<slot>\{[^{}\s]+\})"
    r"|(?P<builtin><[a-z_]+>)"
    r"|(?P<gap>\.\.\.\d*)"
    r"|(?P<punct>[()|\[\]])"
    r"|(?P<word>[^\s(){}\[\]|<>]+)"
)


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says which and why."""


@dataclass
class _Node:
    """One element of a sequence: its regex and whether a space came before it."""

    regex: str
    space_before: bool
    optional: bool = False
    gap: bool = False


@dataclass
class Compiled:
    regex: str
    gap_groups: list[str] = field(default_factory=list)


def _fuzzy_alternatives(word: str) -> list[str]:
    """The word and every spelling one edit away (deletion, insertion, substitution, swap)."""
    variants = [re.escape(word)]
    seen = {word}

    def add(regex: str, key: str) -> None:
        if key not in seen:
            seen.add(key)
            variants.append(regex)

    for i in range(len(word)):
        add(re.escape(word[:i] + word[i + 1 :]), word[:i] + word[i + 1 :])
        add(
            re.escape(word[:i]) + WORD_CHAR + re.escape(word[i + 1 :]),
            word[:i] + "?" + word[i + 1 :],
        )
        if i + 1 < len(word):
            swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            add(re.escape(swapped), swapped)
    for i in range(len(word) + 1):
        add(re.escape(word[:i]) + WORD_CHAR + re.escape(word[i:]), word[:i] + "+" + word[i:])
    return variants


def _literal(text: str, pattern: str, script: str | None = None) -> str | None:
    """The regex of one literal word, or None when it cannot occur in text of `script`."""
    prefix = text.startswith("*")
    suffix_star = text.endswith("*")
    fuzzy = text.endswith("~")
    core = text.strip("*~")
    if "?" in core or "*" in core or "~" in core:
        raise PatternError(
            f"{pattern!r}: {text!r}: '?', '*' and '~' only work at the ends of a word; "
            "use [optional] words"
        )
    normalised = normalize_text(core)
    words = [w for w in re.split(r"[ ,.?]+", normalised) if w]
    if not words:
        raise PatternError(f"{pattern!r}: {text!r} has no letters or digits")
    if script is not None and scripts_in(normalised) - {script}:
        return None
    parts = []
    for index, word in enumerate(words):
        if fuzzy and index == len(words) - 1 and len(word) >= FUZZY_MIN_LENGTH:
            parts.append("(?:" + "|".join(_fuzzy_alternatives(word)) + ")")
        else:
            parts.append(re.escape(word))
    regex = SEP.join(parts)
    if prefix:
        regex = WORD_CHAR + "*" + regex
    if suffix_star:
        regex = regex + WORD_CHAR + "*"
    return regex


class _Parser:
    def __init__(
        self,
        pattern: str,
        slot: Callable[[str], str | None],
        gap_name: Callable[[], str],
        gap_groups: list[str],
        script: str | None = None,
    ) -> None:
        self.pattern = pattern
        self.script = script
        self.slot = slot
        self.gap_name = gap_name
        self.gap_groups = gap_groups
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        for match in _TOKEN.finditer(pattern):
            if match.start() != pos:
                raise PatternError(f"{pattern!r}: cannot read {pattern[pos : match.start()]!r}")
            pos = match.end()
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group()))
        if pos != len(pattern):
            raise PatternError(f"{pattern!r}: cannot read {pattern[pos:]!r}")
        self.i = 0

    def error(self, why: str) -> PatternError:
        return PatternError(f"{self.pattern!r}: {why}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> str | None:
        regex = self.alternatives(closing=None)
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return regex

    def alternatives(self, closing: str | None) -> str | None:
        found = [self.sequence(closing)]
        while (token := self.peek()) is not None and token == ("punct", "|"):
            self.i += 1
            found.append(self.sequence(closing))
        options = [o for o in found if o is not None]
        if not options:
            return None
        if len(options) == 1:
            return options[0]
        # Longest first, so that "(ne peux pas|ne peux)" prefers the whole negation over
        # leaving "pas" to a following "..." (where it would read as a negation).
        options.sort(key=len, reverse=True)
        return "(?:" + "|".join(options) + ")"

    def sequence(self, closing: str | None) -> str | None:
        nodes: list[_Node] = []
        space = False
        impossible = False
        while (token := self.peek()) is not None:
            kind, value = token
            if kind == "punct" and value in ("|", ")", "]"):
                if closing is None or value == "|" or value == closing:
                    break
                raise self.error(f"unexpected {value!r}")
            self.i += 1
            if kind == "space":
                space = True
                continue
            regex: str | None = ""
            if kind == "word":
                regex = _literal(value, self.pattern, self.script)
                node = _Node(regex or "", space)
            elif kind == "slot":
                regex = self.slot(value[1:-1])
                node = _Node(regex or "", space)
            elif kind == "builtin":
                name = value[1:-1]
                if name not in _BUILTINS:
                    raise self.error(f"unknown {value}; known: {', '.join(sorted(_BUILTINS))}")
                node = _Node(_BUILTINS[name], space)
            elif kind == "gap":
                count = int(value[3:] or DEFAULT_GAP)
                name = self.gap_name()
                self.gap_groups.append(name)
                node = _Node(f"(?P<{name}>(?:{SEP}{WORD_CHAR}+){{0,{count}}}?)", space, gap=True)
            elif value == "(":
                regex = self.alternatives(")")
                self.expect(")")
                node = _Node(f"(?:{regex})", space)
            elif value == "[":
                regex = self.alternatives("]")
                self.expect("]")
                if regex is None:
                    space = False
                    continue  # an optional part that cannot occur in this script
                node = _Node(regex, space, optional=True)
            else:
                raise self.error(f"unexpected {value!r}")
            if regex is None and (kind in ("word", "slot") or value == "("):
                impossible = True
            nodes.append(node)
            space = False
        if not nodes:
            raise self.error("empty alternative")
        if impossible:
            return None
        return _join(nodes, self)

    def expect(self, value: str) -> None:
        token = self.peek()
        if token != ("punct", value):
            raise self.error(f"missing {value!r}")
        self.i += 1


def _join(nodes: list[_Node], parser: _Parser) -> str:
    if nodes[-1].gap:
        raise parser.error("'...' must stand between two words")
    out = ""
    started = False  # a mandatory node has been written
    for index, node in enumerate(nodes):
        sep = SEP if node.space_before else ""
        if not started:
            if node.gap:
                raise parser.error("'...' must stand between two words")
            if node.optional:
                following = index + 1 < len(nodes) and nodes[index + 1].space_before
                out += f"(?:{node.regex}{SEP if following else ''})?"
                continue
            out += node.regex
            started = True
            continue
        if node.gap:
            out += node.regex
        elif node.optional:
            out += f"(?:{sep}{node.regex})?"
        else:
            out += sep + node.regex
    if not started:
        raise parser.error("a pattern needs at least one word that is not optional")
    return out


def compile_pattern(
    pattern: str,
    slots: Mapping[str, str | None],
    gap_prefix: str,
    script: str | None = None,
) -> Compiled | None:
    """Compile one pattern to a regex fragment (no boundaries) plus the names of its gaps.

    With ``script``, only the parts written in that script (or in none: digits) are kept, and
    None is returned when the pattern cannot match text written only in that script.
    """
    gap_groups: list[str] = []
    counter = iter(range(1000))

    def slot(name: str) -> str | None:
        if name not in slots:
            raise PatternError(f"{pattern!r}: unknown slot {{{name}}}")
        return slots[name]

    def gap_name() -> str:
        return f"{gap_prefix}_{next(counter)}"

    regex = _Parser(pattern, slot, gap_name, gap_groups, script).parse()
    if regex is None:
        if script is None:
            raise PatternError(f"{pattern!r}: matches nothing")
        return None
    return Compiled(regex, gap_groups)


def compile_full(pattern: str, slots: Mapping[str, str | None], gap_prefix: str) -> Compiled:
    """compile_pattern for all scripts at once (never None)."""
    compiled = compile_pattern(pattern, slots, gap_prefix)
    assert compiled is not None
    return compiled


def compile_slot(
    entries: Sequence[str],
    fuzzy: bool,
    slots: Mapping[str, str | None],
    name: str,
    script: str | None = None,
) -> str | None:
    """A slot word list as one regex alternation (longest entries first).

    With ``script``, only the entries that can occur in text of that script; None if none can.
    """
    if not entries:
        raise PatternError(f"slot {name} is empty")
    options = []
    for entry in sorted({str(e) for e in entries}, key=lambda e: (-len(e), e)):
        text = entry
        if fuzzy:
            text = " ".join(w if w.endswith(("*", "~")) else w + "~" for w in entry.split())
        compiled = compile_pattern(text, slots, gap_prefix=f"slot_{name}", script=script)
        if compiled is None:
            continue
        if compiled.gap_groups:
            raise PatternError(f"slot {name}: {entry!r} may not contain '...'")
        options.append(compiled.regex)
    if not options:
        return None
    return "(?:" + "|".join(options) + ")"


def bounded(regex: str) -> str:
    """A fragment that must start and end at word boundaries."""
    return f"(?<!{WORD_CHAR})(?:{regex})(?!{WORD_CHAR})"
