"""Words the helpline reads itself, before Rasa: erase keywords and safe words.

The words are data (``bot/data/keywords.yml``, or the file named by
``HELPLINE_KEYWORDS_FILE``), one list per language. A message matches when it is
exactly one of the words, whatever its case, Unicode composition, surrounding
spaces or punctuation.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import ConfigError
from bot.languages import FALLBACK, SUPPORTED

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "keywords.yml"
KINDS = ("erase", "safe_words")
# What Rasa reads for an erase keyword: the erase_data intent, which asks for confirmation.
ERASE_PAYLOAD = "/erase_data"


def fold(text: str) -> str:
    """The form words are compared in."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = "".join(
        ch if not unicodedata.category(ch).startswith(("P", "Z", "C")) else " " for ch in folded
    )
    return " ".join(words.split())


@dataclass(frozen=True)
class Keywords:
    erase: dict[str, tuple[str, ...]]
    safe_words: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path = DEFAULT_FILE) -> Keywords:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError("HELPLINE_KEYWORDS_FILE", f"cannot read {path}: {error}") from None
        lists: dict[str, dict[str, tuple[str, ...]]] = {}
        for kind in KINDS:
            entries = document.get(kind)
            if not isinstance(entries, dict):
                raise ConfigError("HELPLINE_KEYWORDS_FILE", f"{path}: {kind} must map languages")
            unknown = sorted(set(entries) - set(SUPPORTED))
            if unknown:
                raise ConfigError(
                    "HELPLINE_KEYWORDS_FILE", f"{path}: unknown languages {', '.join(unknown)}"
                )
            lists[kind] = {}
            for language, words in entries.items():
                if not isinstance(words, list) or not all(
                    isinstance(w, str) and fold(w) for w in words
                ):
                    raise ConfigError(
                        "HELPLINE_KEYWORDS_FILE", f"{path}: {kind}.{language} must list words"
                    )
                lists[kind][language] = tuple(words)
        erase_words = {fold(w) for words in lists["erase"].values() for w in words}
        clash = erase_words & {fold(w) for words in lists["safe_words"].values() for w in words}
        if clash:
            raise ConfigError(
                "HELPLINE_KEYWORDS_FILE",
                f"{path}: words both erase and safe: {', '.join(sorted(clash))}",
            )
        return cls(erase=lists["erase"], safe_words=lists["safe_words"])

    def _matches(self, lists: dict[str, tuple[str, ...]], text: str | None) -> bool:
        folded = fold(text or "")
        return bool(folded) and any(fold(w) == folded for ws in lists.values() for w in ws)

    def is_erase(self, text: str | None) -> bool:
        return self._matches(self.erase, text)

    def is_safe_word(self, text: str | None) -> bool:
        return self._matches(self.safe_words, text)

    def erase_word(self, language: str) -> str:
        """The word the bot tells people to write to erase the chat."""
        words = self.erase.get(language) or self.erase.get(FALLBACK) or ("delete",)
        return words[0]
