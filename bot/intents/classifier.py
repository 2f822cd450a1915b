"""A linear classifier of intents over character and word n-grams, with calibrated confidences.

Three views of each message, all TF-IDF weighted: word uni- and bigrams, character n-grams
within words (typos, joined prefixes, code-mixing) and character n-grams of a vowel-less
"skeleton", since romanised writing varies most in its vowels (Arabizi, romanised Nepali
and Amharic) and an Ethiopic syllable's vowel is the part people get wrong. Every view
starts from the red-flag engine's normalisation (case, accents, Arabic letter variants,
Arabizi digits, repeated letters), so the two read messages alike.

A linear support vector machine separates the labels. Its scores are not probabilities,
so they go through a softmax whose temperature is fitted on held-out folds of the
training data (temperature scaling): the confidence the fallback compares against its
threshold then means what it says, and the ranking stays the SVM's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from bot.redflags.normalize import normalize_text

# Every word, one-letter ones too ("u", "ka", "ko"): scikit-learn's default drops them.
WORD = r"(?u)\b\w+\b"
_LATIN_VOWELS = frozenset("aeiouy")
_ETHIOPIC = range(0x1200, 0x1380)


def skeleton(text: str) -> str:
    """The normalised text without the parts of words that spellings disagree on.

    Ethiopic syllables lose their vowel order (ሙ, ሚ, ማ -> መ); Latin words keep their
    first letter and drop other vowels and an ``h`` after a letter ("kafeel", "kafil" ->
    "kfl"; "bhanthyo", "bantyo" -> "bnt").
    """
    words = []
    for word in normalize_text(text).split():
        out: list[str] = []
        for i, ch in enumerate(word):
            code = ord(ch)
            if code in _ETHIOPIC:
                out.append(chr(code - (code - 0x1200) % 8))
            elif i and (ch in _LATIN_VOWELS or (ch == "h" and word[i - 1].isalpha())):
                continue
            elif not out or out[-1] != ch:
                out.append(ch)
        words.append("".join(out))
    return " ".join(words)


@dataclass(frozen=True)
class Settings:
    c: float = 1.0
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 4)
    skeleton_ngrams: tuple[int, int] = (2, 4)  # (0, 0): no skeleton view
    calibration_folds: int = 3

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        return cls(
            c=float(config["C"]),
            word_ngrams=_pair(config["word_ngrams"]),
            char_ngrams=_pair(config["char_ngrams"]),
            skeleton_ngrams=_pair(config["skeleton_ngrams"]),
            calibration_folds=int(config["calibration_folds"]),
        )


def _pair(value: Sequence[int]) -> tuple[int, int]:
    low, high = value
    return (int(low), int(high))


def _features(settings: Settings) -> FeatureUnion:
    views: list[tuple[str, TfidfVectorizer]] = [
        (
            "words",
            TfidfVectorizer(
                preprocessor=normalize_text,
                ngram_range=settings.word_ngrams,
                token_pattern=WORD,
                sublinear_tf=True,
            ),
        ),
        (
            "characters",
            TfidfVectorizer(
                preprocessor=normalize_text,
                analyzer="char_wb",
                ngram_range=settings.char_ngrams,
                sublinear_tf=True,
            ),
        ),
    ]
    if settings.skeleton_ngrams != (0, 0):
        views.append(
            (
                "skeleton",
                TfidfVectorizer(
                    preprocessor=skeleton,
                    analyzer="char_wb",
                    ngram_range=settings.skeleton_ngrams,
                    sublinear_tf=True,
                ),
            )
        )
    return FeatureUnion(views)


def _pipeline(settings: Settings) -> Pipeline:
    return Pipeline(
        [("features", _features(settings)), ("svm", LinearSVC(C=settings.c))],
    )


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true labels.

    A golden-section search over log(temperature): the likelihood of a softmax is
    unimodal in its temperature.
    """

    def loss(log_t: float) -> float:
        p = _softmax(scores, math.exp(log_t))[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    low, high = math.log(0.01), math.log(10.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(40):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return math.exp((low + high) / 2)


class IntentClassifier:
    """Fit on (text, label) pairs; rank the labels of new texts with confidences."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.labels: list[str] = []
        self.temperature = 1.0
        self._pipeline: Pipeline | None = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        if len(set(labels)) < 2:
            raise ValueError("intent classification needs at least two intents")
        y = np.array(labels)
        pipeline = _pipeline(self.settings)
        self.temperature = self._calibrate(pipeline, list(texts), y)
        pipeline.fit(list(texts), y)
        self.labels = [str(label) for label in pipeline.classes_]
        self._pipeline = pipeline
        return self

    def _calibrate(self, pipeline: Pipeline, texts: list[str], y: np.ndarray) -> float:
        _, counts = np.unique(y, return_counts=True)
        folds = min(self.settings.calibration_folds, int(counts.min()))
        if folds < 2:
            return 1.0  # too few examples of some intent to hold any out
        scores = cross_val_predict(
            pipeline,
            texts,
            y,
            cv=StratifiedKFold(folds, shuffle=True, random_state=0),
            method="decision_function",
        )
        classes = np.unique(y)
        if scores.ndim == 1:  # two labels: one score, for the second
            scores = np.column_stack([-scores, scores])
        return fit_temperature(scores, np.searchsorted(classes, y))

    def rank(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each text, every label with its confidence, the most likely first."""
        if self._pipeline is None:
            raise RuntimeError("the classifier is not trained")
        if not texts:
            return []
        scores = self._pipeline.decision_function(list(texts))
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores])
        probabilities = _softmax(scores, self.temperature)
        rankings = []
        for row in probabilities:
            order = np.argsort(-row, kind="stable")
            rankings.append([(self.labels[i], float(row[i])) for i in order])
        return rankings
