"""Rasa's tracker store, reached directly to delete what a person said.

Rasa's HTTP API cannot forget: replacing a tracker's events with an empty list adds
nothing to the SQL tracker store and is merged with the stored tracker in Redis. So
erasure and retention delete in the store itself: rows of the ``events`` table of
the SQLite tracker store that ``helpline run`` gives Rasa (``var/rasa/tracker.db``),
or the tracker's key in Redis (``helpline:tracker:<sender>``) when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

# Rasa prefixes its Redis keys with "<key_prefix>:tracker:".
REDIS_KEY_PREFIX = "helpline"
REDIS_TRACKER_PREFIX = f"{REDIS_KEY_PREFIX}:tracker:"


def sqlite_path(settings: Settings) -> Path:
    """Where ``helpline run`` tells Rasa to keep its SQLite tracker store."""
    return settings.var_dir / "rasa" / "tracker.db"


class TrackerStore(ABC):
    @abstractmethod
    async def delete(self, senders: Collection[str]) -> int:
        """Forget these senders' trackers; returns how many trackers had anything."""

    @abstractmethod
    async def delete_before(self, cutoff: datetime) -> int:
        """Forget everything said before ``cutoff``; returns how much went."""

    async def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release connections."""


class SQLiteTrackerStore(TrackerStore):
    def __init__(self, path: Path) -> None:
        self.path = path

    def _run(self, sql: str, parameters: list[Any]) -> int:
        if not self.path.exists():
            return 0
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:
                return connection.execute(sql, parameters).rowcount
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):  # Rasa has not stored anything yet
                return 0
            raise
        finally:
            connection.close()

    async def delete(self, senders: Collection[str]) -> int:
        deleted = 0
        chunk = list(senders)
        for start in range(0, len(chunk), 500):
            part = chunk[start : start + 500]
            marks = ",".join("?" * len(part))
            deleted += await asyncio.to_thread(
                self._run,
                # Only placeholders are formatted in; the senders are bound parameters.
                f"DELETE FROM events WHERE sender_id IN ({marks})",  # noqa: S608
                part,
            )
        return deleted

    async def delete_before(self, cutoff: datetime) -> int:
        return await asyncio.to_thread(
            self._run, "DELETE FROM events WHERE timestamp < ?", [cutoff.timestamp()]
        )


class RedisTrackerStore(TrackerStore):
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)

    async def delete(self, senders: Collection[str]) -> int:
        if not senders:
            return 0
        deleted: int = await self._redis.delete(*(REDIS_TRACKER_PREFIX + s for s in senders))
        return deleted

    async def delete_before(self, cutoff: datetime) -> int:
        """Trackers whose last event is older than ``cutoff`` (Rasa stores one blob each)."""
        deleted = 0
        async for key in self._redis.scan_iter(match=REDIS_TRACKER_PREFIX + "*", count=500):
            stored = await self._redis.get(key)
            if stored is None:
                continue
            try:
                events = json.loads(stored).get("events") or []
                last = float(events[-1]["timestamp"]) if events else 0.0
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("a Rasa tracker in Redis could not be read; it is left alone")
                continue
            if last < cutoff.timestamp():
                deleted += await self._redis.delete(key)
        return deleted

    async def close(self) -> None:
        await self._redis.aclose()


def make_tracker_store(settings: Settings) -> TrackerStore:
    if settings.redis_url:
        return RedisTrackerStore(settings.redis_url)
    return SQLiteTrackerStore(sqlite_path(settings))
