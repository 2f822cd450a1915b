"""The helpline application for API tests: no embedded worker, fast password hashing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot import auth
from bot.app_state import AppState
from bot.config import Settings
from tests.helpers import factories
from tests.helpers.app import make_app


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)
    return make_app(settings, monkeypatch)


@pytest.fixture
def state(app: FastAPI) -> AppState:
    helpline: AppState = app.state.helpline
    return helpline


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
