from __future__ import annotations

import pytest

from tests.bench import figures
from tests.bench.figures import Turn


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        ([float(n) for n in range(1, 101)], 95, 95.05),
        ([10.0, 20.0], 25, 12.5),
    ],
    ids=["one-value", "median-between", "minimum", "maximum", "p95-of-100", "interpolated"],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert figures.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_out_of_range_is_refused() -> None:
    assert figures.percentile([], 50) is None
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        figures.percentile([1.0], 101)


def test_distribution() -> None:
    summary = figures.distribution([10.0, 20.0, 30.0, 40.0])

    assert (summary["count"], summary["mean"], summary["max"], summary["p50"]) == (4, 25, 40, 25)


def test_sends_go_to_the_last_turn_sent_before_them() -> None:
    turns = [Turn(0, 0, sent_at=10.0), Turn(0, 1, sent_at=20.0), Turn(1, 0, sent_at=15.0)]
    address_of = {0: "whatsapp:+9617000001", 1: "+9617000002"}
    sends = [
        (21.5, "whatsapp:+9617000001", "second answer"),
        (10.4, "whatsapp:+9617000001", "first answer"),
        (10.5, "whatsapp:+9617000001", "first answer, part 2"),
        (15.3, "+9617000002", "other person"),
        (9.0, "whatsapp:+9617000001", "before anything was sent"),
        (12.0, "+10000000000", "nobody's"),
    ]

    strays = figures.attribute(sends, turns, address_of)

    assert strays == 2
    assert [t.replies for t in turns] == [
        [(10.4, "first answer"), (10.5, "first answer, part 2")],
        [(21.5, "second answer")],
        [(15.3, "other person")],
    ]
    assert turns[0].first_reply_ms == pytest.approx(400)
    assert turns[0].end_to_end_ms == pytest.approx(500)


def answered(
    conversation: int, index: int, replies: list[str], *, status: int | None = 200
) -> Turn:
    turn = Turn(conversation, index, sent_at=1.0, answered_at=1.01, status=status)
    turn.replies = [(1.1 + n / 10, text) for n, text in enumerate(replies)]
    return turn


def test_lost_counts_refused_webhooks_and_turns_answered_short() -> None:
    silent_on_purpose = answered(3, 1, [])
    silent_on_purpose.expected_replies = 0
    short = answered(4, 0, ["ack", "answer"])
    short.expected_replies = 3
    cut_in_parts = answered(5, 0, ["(1/2) ...", "(2/2) ..."])
    turns = [
        answered(0, 0, ["hi"]),
        answered(1, 0, []),
        answered(2, 0, ["hi"], status=503),
        answered(2, 1, ["hi"], status=None),
        silent_on_purpose,
        short,
        cut_in_parts,
    ]

    assert figures.lost(turns) == 4


def test_duplicated_counts_each_repeat_of_a_text_within_a_turn() -> None:
    turns = [
        answered(0, 0, ["ack", "answer", "ack", "ack"]),
        answered(0, 1, ["ack"]),  # the same text in another turn is no duplicate
        answered(1, 0, ["hello", "hello"]),
    ]

    assert figures.duplicated(turns) == 3


def test_replies_after_a_handover_are_unexpected() -> None:
    after = answered(0, 2, ["should not be here"])
    after.expected_replies = 0

    assert figures.unexpected([answered(0, 0, ["hi"]), after]) == 1


def test_expectations_follow_the_reference_until_a_handover() -> None:
    handover = answered(0, 1, ["a caseworker will write"])
    handover.hands_over = True
    reference = [
        answered(0, 0, ["hi"]),
        handover,
        answered(0, 2, ["the bot would answer, the helpline must not"]),
        answered(1, 0, []),
        answered(1, 1, ["red flag noted", "rights", "a question"]),
    ]

    assert figures.expectations(reference) == {
        (0, 0): 1,
        (0, 1): 1,
        (0, 2): 0,
        (1, 0): 0,
        (1, 1): 3,
    }


def test_throughput_counts_answered_turns_over_the_whole_phase() -> None:
    first = Turn(0, 0, sent_at=0.0, answered_at=0.01, status=200, replies=[(1.0, "a")])
    second = Turn(1, 0, sent_at=0.5, answered_at=0.51, status=200, replies=[(2.0, "b")])
    unanswered = Turn(2, 0, sent_at=0.2, answered_at=0.21, status=200)

    assert figures.throughput([first, second, unanswered]) == pytest.approx(1.0)
    assert figures.throughput([unanswered]) is None


def test_throughput_over_rounds_leaves_out_the_time_between_them() -> None:
    first = [Turn(0, 0, sent_at=0.0, answered_at=0.01, status=200, replies=[(2.0, "a")])]
    second = [
        Turn(0, 0, sent_at=100.0, answered_at=100.01, status=200, replies=[(101.0, "a")]),
        Turn(1, 0, sent_at=100.0, answered_at=100.01, status=200, replies=[(102.0, "b")]),
    ]

    assert figures.combined_throughput([first, second]) == pytest.approx(3 / 4)


def test_ratio_lines() -> None:
    helpline = {"throughput_per_s": 9.0, "end_to_end_ms": {"p95": 1012.5}}
    reference = {"throughput_per_s": 10.0, "end_to_end_ms": {"p95": 1000.0}}

    assert figures.ratio_lines(helpline, reference) == [
        "throughput_ratio: helpline/rasa = 0.900",
        "added_latency_p95_ms: 12.5",
    ]


def test_ratio_lines_without_figures_say_so() -> None:
    empty = {"throughput_per_s": None, "end_to_end_ms": {"p95": None}}

    assert figures.ratio_lines(empty, empty) == [
        "throughput_ratio: helpline/rasa = n/a",
        "added_latency_p95_ms: n/a",
    ]


def test_table() -> None:
    rendered = figures.table(
        [("throughput", [9.04, 10.0]), ("lost", [0, None]), ("p99 ms", [1234.5, 99.94])],
        ["", "helpline", "rasa"],
    )

    assert rendered.splitlines() == [
        "            helpline  rasa",
        "----------  --------  ----",
        "throughput       9.0  10.0",
        "lost               0     -",
        "p99 ms          1234  99.9",
    ]
