"""The benchmark's arithmetic: turns, percentiles, lost and duplicated replies, the ratio lines.

Pure functions over what the load generator recorded, so that ``test_figures.py`` checks
them without any process running. Times are ``time.monotonic()`` seconds (one clock for
the whole machine on Linux); latencies are reported in milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50, 90, 95, 99)


@dataclass
class Turn:
    """One message of one conversation, and what came back for it.

    ``answered_at`` is when the sender got its HTTP answer: the webhook's acknowledgement
    (helpline) or Rasa's REST response with every bot text (reference). ``replies`` are the
    (time, text) pairs the provider was asked to send for this turn (helpline) or the
    texts of the REST response, all at ``answered_at`` (reference).
    """

    conversation: int
    index: int
    sent_at: float
    answered_at: float | None = None
    status: int | None = None
    replies: list[tuple[float, str]] = field(default_factory=list)
    # At least this many messages answer the turn (bare Rasa's texts); 0: it stays silent.
    expected_replies: int = 1
    # The provider delivered this webhook twice (as Twilio does after a time-out).
    redelivered: bool = False
    # The bot handed the person to a caseworker in this turn: it is silent afterwards.
    hands_over: bool = False

    @property
    def expect_reply(self) -> bool:
        return self.expected_replies > 0

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def ack_ms(self) -> float | None:
        if self.answered_at is None or not self.acknowledged:
            return None
        return (self.answered_at - self.sent_at) * 1000

    @property
    def first_reply_ms(self) -> float | None:
        return (self.replies[0][0] - self.sent_at) * 1000 if self.replies else None

    @property
    def end_to_end_ms(self) -> float | None:
        """From sending the message to the last reply of the turn."""
        return (max(at for at, _ in self.replies) - self.sent_at) * 1000 if self.replies else None

    @property
    def finished_at(self) -> float | None:
        if self.replies:
            return max(at for at, _ in self.replies)
        return self.answered_at


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, max and the usual percentiles of a list of milliseconds."""
    summary: dict[str, float | int | None] = {
        "count": len(values),
        "mean": sum(values) / len(values) if values else None,
        "max": max(values) if values else None,
    }
    for q in PERCENTILES:
        summary[f"p{q}"] = percentile(values, q)
    return summary


def attribute(
    sends: Iterable[tuple[float, str, str]], turns: Sequence[Turn], address_of: dict[int, str]
) -> int:
    """Give each provider send (time, to, body) to the turn it answers; returns the strays.

    A conversation's turns are sequential: a send belongs to the last turn of its
    conversation sent before it. A send to no known address, or before the first turn,
    is a stray (it answers nothing the benchmark sent).
    """
    by_address: dict[str, list[Turn]] = {}
    for turn in sorted(turns, key=lambda t: t.sent_at):
        turn.replies.clear()
        by_address.setdefault(address_of[turn.conversation], []).append(turn)
    strays = 0
    for at, to, body in sorted(sends):
        candidates = [t for t in by_address.get(to, []) if t.sent_at <= at]
        if not candidates:
            strays += 1
            continue
        candidates[-1].replies.append((at, body))
    return strays


def expectations(reference: Iterable[Turn]) -> dict[tuple[int, int], int]:
    """How many messages at least answer each turn: bare Rasa's texts, none after a handover."""
    expected: dict[tuple[int, int], int] = {}
    handed_over: set[int] = set()
    for turn in sorted(reference, key=lambda t: (t.conversation, t.index)):
        silent = turn.conversation in handed_over
        expected[(turn.conversation, turn.index)] = 0 if silent else len(turn.replies)
        if turn.hands_over:
            handed_over.add(turn.conversation)
    return expected


def lost(turns: Iterable[Turn]) -> int:
    """Turns refused, or answered by fewer messages than bare Rasa's texts for them."""
    return sum(1 for t in turns if not t.acknowledged or len(t.replies) < t.expected_replies)


def duplicated(turns: Iterable[Turn]) -> int:
    """Replies sent more than once in a turn: every repeat of a text beyond its first."""
    return sum(
        count - 1 for t in turns for count in Counter(body for _, body in t.replies).values()
    )


def unexpected(turns: Iterable[Turn]) -> int:
    """Turns that should have stayed silent (the person is with a caseworker) but got replies."""
    return sum(1 for t in turns if not t.expect_reply and t.replies)


def throughput(turns: Sequence[Turn]) -> float | None:
    """Answered turns per second, from the first message sent to the last reply."""
    answered = [t for t in turns if t.acknowledged and (t.replies or not t.expect_reply)]
    if not answered:
        return None
    start = min(t.sent_at for t in turns)
    end = max(t.finished_at or t.sent_at for t in answered)
    return len(answered) / (end - start) if end > start else None


def combined_throughput(rounds: Sequence[Sequence[Turn]]) -> float | None:
    """Answered turns per second over several rounds, each timed on its own."""
    answered, seconds = 0, 0.0
    for turns in rounds:
        rate = throughput(turns)
        if rate:
            count = sum(1 for t in turns if t.acknowledged and (t.replies or not t.expect_reply))
            answered += count
            seconds += count / rate
    return answered / seconds if seconds else None


def summarise(rounds: Sequence[Sequence[Turn]], *, acknowledgements: bool) -> dict[str, Any]:
    """Every figure of one kind of phase, over its rounds."""
    turns = [t for r in rounds for t in r]
    end_to_end = [v for t in turns if (v := t.end_to_end_ms) is not None]
    summary: dict[str, Any] = {
        "turns": len(turns),
        "replies": sum(len(t.replies) for t in turns),
        "throughput_per_s": combined_throughput(rounds),
        "end_to_end_ms": distribution(end_to_end),
        "first_reply_ms": distribution([v for t in turns if (v := t.first_reply_ms) is not None]),
        "lost": lost(turns),
        "duplicated": duplicated(turns),
        "unexpected": unexpected(turns),
        "redelivered": sum(1 for t in turns if t.redelivered),
    }
    if acknowledgements:
        summary["ack_ms"] = distribution([v for t in turns if (v := t.ack_ms) is not None])
    return summary


def ratio_lines(helpline: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """The two lines the benchmark ends with; ``n/a`` where a figure is missing."""
    ours, theirs = helpline.get("throughput_per_s"), reference.get("throughput_per_s")
    ratio = f"{ours / theirs:.3f}" if ours and theirs else "n/a"
    p95 = helpline["end_to_end_ms"].get("p95"), reference["end_to_end_ms"].get("p95")
    added = f"{p95[0] - p95[1]:.1f}" if None not in p95 else "n/a"
    return [f"throughput_ratio: helpline/rasa = {ratio}", f"added_latency_p95_ms: {added}"]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: Sequence[tuple[str, Sequence[Any]]], header: Sequence[str]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [list(header), *[[label, *map(_cell, values)] for label, values in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for number, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
