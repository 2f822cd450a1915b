"""Offline language identification for short messages, in pure Python.

A multinomial naive Bayes over character n-grams (1 to 4, within words), trained
on this project's own training examples (``corpus/<lang>.txt``, rebuilt from
``nlu_data/<lang>/`` with ``python -m bot.langid.build``). It knows the scripts
people really use: Arabic in Arabic letters and in Arabizi, Nepali in Devanagari
and romanised, Amharic in Ethiopic, Taglish and abbreviated Indonesian.
Both runtimes import it: standard library only.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SUPPORTED = ("en", "ar", "fr", "es", "tl", "id", "ne", "am")
CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_N = 4
SMOOTHING = 0.5
# Below this share of n-grams seen in any corpus, the text is in no language we know.
MIN_KNOWN_SHARE = 0.35
WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Guess:
    language: str | None
    confidence: float
    # How much of the text looks like any supported language at all (0..1).
    known_share: float

    @property
    def supported(self) -> bool:
        return self.language is not None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    # Arabic diacritics and tatweel say nothing about the language.
    return "".join(c for c in text if not ("\u064b" <= c <= "\u065f" or c == "\u0640"))


def ngrams(text: str) -> list[str]:
    grams: list[str] = []
    for word in WORD.findall(normalise(text)):
        padded = f" {word} "
        for n in range(1, MAX_N + 1):
            grams.extend(
                padded[i : i + n] for i in range(len(padded) - n + 1) if padded[i : i + n] != " "
            )
    return grams


class Model:
    def __init__(self, corpora: dict[str, str]) -> None:
        self.languages = tuple(corpora)
        self._log_probs: dict[str, dict[str, float]] = {}
        self._unseen: dict[str, float] = {}
        vocabulary: set[str] = set()
        counts = {language: Counter(ngrams(text)) for language, text in corpora.items()}
        for counter in counts.values():
            vocabulary.update(counter)
        self._vocabulary = frozenset(vocabulary)
        size = len(vocabulary) + 1
        for language, counter in counts.items():
            total = sum(counter.values()) + SMOOTHING * size
            self._log_probs[language] = {
                g: math.log((c + SMOOTHING) / total) for g, c in counter.items()
            }
            self._unseen[language] = math.log(SMOOTHING / total)

    def identify(self, text: str) -> Guess:
        grams = ngrams(text)
        if not grams:
            return Guess(None, 0.0, 0.0)
        known = sum(1 for g in grams if g in self._vocabulary) / len(grams)
        scores = {
            language: sum(self._log_probs[language].get(g, self._unseen[language]) for g in grams)
            for language in self.languages
        }
        best = max(scores, key=scores.__getitem__)
        top = scores[best]
        total = sum(math.exp(score - top) for score in scores.values())
        confidence = 1.0 / total
        if known < MIN_KNOWN_SHARE:
            return Guess(None, confidence, known)
        return Guess(best, confidence, known)


@lru_cache(maxsize=1)
def model() -> Model:
    corpora = {}
    for language in SUPPORTED:
        path = CORPUS / f"{language}.txt"
        if path.is_file():
            corpora[language] = path.read_text(encoding="utf-8")
    return Model(corpora)


def identify(text: str) -> Guess:
    """The most likely supported language of ``text``, its probability, and how known it looks."""
    return model().identify(text)
