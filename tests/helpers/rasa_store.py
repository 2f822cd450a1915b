"""Trackers written the way Rasa 3.6 writes them, into the store a test's settings name.

The SQLite table has the columns of Rasa's ``SQLTrackerStore.SQLEvent``; a Redis
tracker is the JSON of ``DialogueStateTracker.as_dialogue`` under Rasa's key. The
real Rasa writes both in tests/integration.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from bot.config import Settings
from bot.tracker_store import REDIS_TRACKER_PREFIX, sqlite_path

RASA_EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
)
"""


def write_tracker(settings: Settings, sender: str, text: str, at: datetime) -> None:
    event = {"event": "user", "timestamp": at.timestamp(), "text": text}
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        client.set(REDIS_TRACKER_PREFIX + sender, json.dumps({"name": sender, "events": [event]}))
        client.close()
        return
    path = sqlite_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute(RASA_EVENTS_TABLE)
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            (sender, "user", at.timestamp(), json.dumps(event)),
        )
    connection.close()


def stored_text(settings: Settings) -> str:
    """Everything the tracker store holds, as one string to search."""
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        keys = sorted(client.scan_iter(match=REDIS_TRACKER_PREFIX + "*"))
        found = "\n".join(f"{key} {client.get(key)}" for key in keys)
        client.close()
        return found
    path = sqlite_path(settings)
    if not path.exists():
        return ""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    connection.close()
    return "\n".join(f"{sender} {data}" for sender, data in rows)
