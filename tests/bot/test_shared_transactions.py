"""Writes that arrive together (inbound messages, delivery reports) share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.db import Database
from bot.shared_transactions import SharedTransactions


def counting_commits(db: Database) -> list[int]:
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda connection: commits.append(1))
    return commits


def answer(value: int) -> Callable[[Session], int]:
    def report(session: Session) -> int:
        return int(session.scalar(text(f"SELECT {value}")) or 0)

    return report


async def test_reports_that_arrive_together_share_a_transaction(db: Database) -> None:
    writer = SharedTransactions(db.session)
    commits = counting_commits(db)
    results = await asyncio.gather(*(writer.write(answer(n)) for n in range(10)))
    assert results == list(range(10))
    # All ten were waiting before the writer first ran: one commit for them all.
    assert len(commits) == 1


async def test_reports_that_arrive_during_a_write_go_in_the_next_batch(db: Database) -> None:
    writer = SharedTransactions(db.session)
    commits = counting_commits(db)
    first = asyncio.create_task(writer.write(answer(0)))
    await asyncio.sleep(0.05)  # the first batch is being written, or written
    rest = await asyncio.gather(*(writer.write(answer(n)) for n in range(1, 6)))
    assert [await first, *rest] == list(range(6))
    assert len(commits) == 2


async def test_a_lone_report_is_written_at_once(db: Database) -> None:
    writer = SharedTransactions(db.session)
    commits = counting_commits(db)
    assert await writer.write(answer(7)) == 7
    assert await writer.write(answer(8)) == 8
    assert len(commits) == 2


async def test_a_failing_report_fails_alone(db: Database) -> None:
    writer = SharedTransactions(db.session)

    def broken(session: Session) -> int:
        session.execute(text("SELECT * FROM no_such_table"))
        return 0

    outcomes = await asyncio.gather(
        writer.write(answer(1)),
        writer.write(answer(2)),
        writer.write(broken),
        writer.write(answer(3)),
        return_exceptions=True,
    )
    assert outcomes[:2] == [1, 2]
    assert isinstance(outcomes[2], DBAPIError)  # the database's own error, as raised
    assert outcomes[3] == 3


async def test_writes_of_a_batch_are_committed_before_the_answer(db: Database) -> None:
    writer = SharedTransactions(db.session)
    with db.session() as session:
        session.execute(text("CREATE TABLE report_probe (n INTEGER)"))

    def insert(n: int) -> Callable[[Session], None]:
        def report(session: Session) -> None:
            session.execute(text("INSERT INTO report_probe (n) VALUES (:n)"), {"n": n})

        return report

    try:
        await asyncio.gather(*(writer.write(insert(n)) for n in range(5)))
        with db.session() as session:
            assert sorted(session.scalars(text("SELECT n FROM report_probe"))) == [0, 1, 2, 3, 4]
    finally:
        with db.session() as session:
            session.execute(text("DROP TABLE report_probe"))


@pytest.mark.parametrize("cancelled", [0, 1], ids=["first", "second"])
async def test_a_request_that_went_away_loses_nobody_else_their_answer(
    db: Database, cancelled: int
) -> None:
    writer = SharedTransactions(db.session)
    tasks = [asyncio.create_task(writer.write(answer(n))) for n in range(3)]
    await asyncio.sleep(0)
    tasks[cancelled].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[cancelled], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != cancelled] == [
        n for n in range(3) if n != cancelled
    ]
