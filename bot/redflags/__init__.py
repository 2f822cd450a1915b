"""Red flags of forced labour and trafficking in helpline messages.

    >>> from bot.redflags import analyze
    >>> analyze("madam keeps my passport").to_dict()["risk"]
    'high'

Pure Python (standard library + PyYAML) so that both the helpline and the Rasa runtime can
import it. The patterns, cue words and risk rules are data under ``data/``; see
docs/red-flags.md for their format and for how risk is computed.
"""

from __future__ import annotations

from functools import lru_cache

from .engine import ALIASES, Analysis, Engine, Indicator, build_engine
from .lexicon import CODES, DATA_DIR, RISK_LEVELS, SEVERITIES, DataError

__all__ = [
    "ALIASES",
    "CODES",
    "RISK_LEVELS",
    "SEVERITIES",
    "Analysis",
    "DataError",
    "Engine",
    "Indicator",
    "analyze",
    "build_engine",
    "get_engine",
    "languages",
]


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The engine compiled from the packaged data files (built on first use, then cached)."""
    return build_engine(DATA_DIR)


def analyze(text: str, language: str | None = None) -> Analysis:
    """Red-flag indicators and a risk level for one message.

    ``language`` (ISO 639-1, aliases ``fil`` and ``in`` accepted) runs that language's lexicon
    plus English; ``None`` or an unknown code runs every lexicon, since people mix languages.
    """
    return get_engine().analyze(text, language)


def languages() -> tuple[str, ...]:
    """The languages that have a lexicon."""
    return get_engine().languages
