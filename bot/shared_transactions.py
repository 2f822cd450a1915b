"""Writes that arrive together share one transaction: inbound messages, delivery reports.

Each webhook a provider sends is a small write: an inbound message to store, or one of
the two or three reports on every message sent (sent, delivered, read), which are most
of the requests the service answers. One at a time, each costs a database session, a
thread hop and a commit, and a burst of them queues for threads. Here the writes that
arrive while a batch is being written go together into the next one; when the service
is quiet, a write happens at once, so batching adds no wait. A request is answered only
after its write is committed, so a batch is as durable as one write. A write that fails
is tried again alone, so that it fails nobody else's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from typing import TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
Write = Callable[[Session], T]

MAX_BATCH = 100


class SharedTransactions:
    """Apply writes (functions of a session) in shared transactions, one batch at a time.

    ``executor`` runs the batches (default: the loop's, that is ``asyncio.to_thread``'s).
    """

    def __init__(
        self,
        session: Callable[[], AbstractContextManager[Session]],
        *,
        executor: Executor | None = None,
    ) -> None:
        self._session = session
        self._executor = executor
        self._pending: list[tuple[Write[object], asyncio.Future[object]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, write: Write[T]) -> T:
        """``write``'s result once it is committed; its error if it (alone) failed."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future  # type: ignore[return-value]

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            writes = [write for write, _ in batch]
            try:
                outcomes = await loop.run_in_executor(self._executor, self._together, writes)
            except Exception:
                # One bad write must not fail the others: each alone, in its own transaction.
                outcomes = await loop.run_in_executor(self._executor, self._alone, writes)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its request went away meanwhile
                    continue
                if isinstance(outcome, Failed):
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome)

    def _together(self, writes: Sequence[Write[object]]) -> list[object]:
        with self._session() as session:
            return [write(session) for write in writes]

    def _alone(self, writes: Sequence[Write[object]]) -> list[object]:
        outcomes: list[object] = []
        for write in writes:
            try:
                with self._session() as session:
                    outcomes.append(write(session))
            except Exception as error:
                outcomes.append(Failed(error))
        return outcomes


class Failed:
    """A write's error, carried back to the request that sent it."""

    def __init__(self, error: Exception) -> None:
        self.error = error
