"""Delivery reports written in batches: one transaction for the reports that arrive together.

A provider reports two or three times on every message sent (sent, delivered, read), so
reports are most of the requests the service answers. One at a time, each costs a
database session, a thread hop and a commit. Here the reports that arrive while a batch
is being written go together into the next one; when the service is quiet, a report is
written at once, so batching adds no wait. A request is answered only after its report
is committed, so a batch is as durable as one report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
Report = Callable[[Session], T]

MAX_BATCH = 100


class ReportWriter:
    """Apply reports (functions of a session) in shared transactions."""

    def __init__(self, session: Callable[[], AbstractContextManager[Session]]) -> None:
        self._session = session
        self._pending: list[tuple[Report[object], asyncio.Future[object]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, report: Report[T]) -> T:
        """``report``'s result once it is committed; its error if it (alone) failed."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending.append((report, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future  # type: ignore[return-value]

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            reports = [report for report, _ in batch]
            try:
                outcomes = await asyncio.to_thread(self._together, reports)
            except Exception:
                # One bad report must not fail the others: each alone, in its own transaction.
                outcomes = await asyncio.to_thread(self._alone, reports)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its request went away meanwhile
                    continue
                if isinstance(outcome, Failed):
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome)

    def _together(self, reports: Sequence[Report[object]]) -> list[object]:
        with self._session() as session:
            return [report(session) for report in reports]

    def _alone(self, reports: Sequence[Report[object]]) -> list[object]:
        outcomes: list[object] = []
        for report in reports:
            try:
                with self._session() as session:
                    outcomes.append(report(session))
            except Exception as error:
                outcomes.append(Failed(error))
        return outcomes


class Failed:
    """A report's error, carried back to the request that sent it."""

    def __init__(self, error: Exception) -> None:
        self.error = error
