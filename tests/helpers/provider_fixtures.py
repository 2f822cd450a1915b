"""Fixtures: the helpline wired to the provider fakes, a client for its webhooks, a scripted Rasa.

Test directories that need them import them into their conftest.py.

The application is driven in the test's own event loop (httpx's ASGI transport), so
that the channel clients' connections, the webhooks and the worker share one loop.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator

import httpx
import httpx._transports.default
import pytest
from fastapi import FastAPI

from bot import app_state, outbox
from bot.app_state import AppState
from bot.config import Settings
from bot.worker import Worker
from tests.helpers.app import make_app
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.providers import PUBLIC_BASE_URL, ScriptedRasa, provider_settings


@pytest.fixture(scope="session", autouse=True)
def quicker_applications() -> Iterator[None]:
    """Build each test's application without redoing what is the same for all of them.

    Each application builds three httpx clients (Rasa, health checks, Telegram), each
    loading the CA bundle, and parses every gettext catalogue: together more than most
    of these tests take. Nothing here speaks TLS; catalogues still reload when edited.
    """
    with pytest.MonkeyPatch.context() as patch:
        tls = functools.cache(httpx._transports.default.create_ssl_context)
        patch.setattr(httpx._transports.default, "create_ssl_context", tls)
        patch.setattr(app_state, "Catalogs", functools.cache(app_state.Catalogs))
        yield


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def provider_environ(
    environ: dict[str, str], fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> dict[str, str]:
    return environ | provider_settings(PUBLIC_BASE_URL, fake_twilio.url, fake_telegram.url)


@pytest.fixture
async def app(
    provider_environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    # Backoff between attempts without a Retry-After: short, so that retries are quick to test.
    monkeypatch.setattr(outbox, "BACKOFF", (0.01, 0.02, 0.04, 0.08))
    app = make_app(Settings.load(provider_environ, env_file=None), monkeypatch)
    yield app
    await app.state.helpline.close()


@pytest.fixture
def state(app: FastAPI) -> AppState:
    helpline: AppState = app.state.helpline
    return helpline


@pytest.fixture
def rasa(state: AppState) -> ScriptedRasa:
    scripted = ScriptedRasa()
    state.rasa = scripted  # type: ignore[assignment]
    return scripted


@pytest.fixture
def worker(state: AppState) -> Worker:
    return Worker(state)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE_URL) as client:
        yield client
