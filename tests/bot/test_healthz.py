from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.db import Database
from tests.helpers.app import make_app


def healthz(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, database: Database | None = None
) -> tuple[int, dict]:
    app = make_app(settings, monkeypatch)
    if database is not None:
        app.state.helpline.db.dispose()
        app.state.helpline.db = database
    with TestClient(app) as client:
        response = client.get("/healthz")
    return response.status_code, response.json()


def test_down_components_are_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = healthz(settings, monkeypatch)

    assert status == 503
    assert (body["status"], body["down"]) == ("down", ["action_server", "rasa"])
    assert body["components"]["database"] == "ok"
    assert body["components"]["rasa"].startswith("down: ")
    assert body["queue"] == ("redis" if settings.uses_redis else "in-process")
    if settings.uses_redis:
        assert body["components"]["redis"] == "ok"


def test_database_down_is_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = healthz(settings, monkeypatch, Database("postgresql://nobody@127.0.0.1:1/none"))

    # A green healthz with Rasa and the action server up is tested against the real
    # servers in tests/integration.
    assert (status, body["down"]) == (503, ["action_server", "database", "rasa"])
