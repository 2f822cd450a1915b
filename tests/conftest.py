"""Fixtures shared by the helpline's tests.

Every test gets its own empty database: SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set (the second pass of `make test`), with Redis when
TEST_REDIS_URL is set. Settings are built from a dict, never from os.environ.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import crypto
from bot.config import Settings
from bot.db import Database, normalise_url, upgrade
from bot.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def pytest_report_header() -> list[str]:
    return [
        f"database: {'PostgreSQL' if TEST_DATABASE_URL else 'SQLite'}; "
        f"queue: {'Redis' if TEST_REDIS_URL else 'in-process'}"
    ]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a SQLite template file, or the PostgreSQL schema."""
    if TEST_DATABASE_URL:
        database = Database(TEST_DATABASE_URL)
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        database.dispose()
        upgrade(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "helpline.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if TEST_DATABASE_URL:
        database = Database(TEST_DATABASE_URL)
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        database.dispose()
        yield normalise_url(TEST_DATABASE_URL)
        return
    path = tmp_path / "helpline.db"
    shutil.copyfile(migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def redis_url() -> Iterator[str | None]:
    if not TEST_REDIS_URL:
        yield None
        return
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def environ(tmp_path: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {
        "HELPLINE_ENV": "test",
        "HELPLINE_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        # Nothing listens here: tests that need Rasa are the integration tests.
        "RASA_URL": "http://127.0.0.1:9",
        "ACTION_SERVER_URL": "http://127.0.0.1:9",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return Settings.load(environ, env_file=None)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    crypto.configure(crypto.Cipher(settings.data_keys, settings.secret_key))
    database = Database(settings.database_url)
    yield database
    database.dispose()
