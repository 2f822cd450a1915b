"""Limits every webhook shares (bot.ratelimit): refused requests per source, messages per sender."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot import ratelimit
from bot.app_state import AppState
from bot.ratelimit import RATE_LIMITED, RATE_LIMITED_FIRST
from bot.worker import TOO_FAST, Worker
from channels.telegram import MAX_UPDATE_BYTES, SECRET_HEADER
from tests.helpers.fake_telegram import FakeTelegram, text_update
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.providers import TELEGRAM_SECRET, ScriptedRasa, provider_settings, rows


@pytest.fixture
def provider_environ(
    environ: dict[str, str], fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> dict[str, str]:
    limits = {"HELPLINE_RATE_LIMIT_SENDER": "3", "HELPLINE_RATE_LIMIT_SOURCE": "8"}
    return (
        environ
        | provider_settings("https://helpline.example.org", fake_twilio.url, fake_telegram.url)
        | limits
    )


@pytest.fixture(autouse=True)
def hour_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test never straddles the end of a window.
    monkeypatch.setattr(ratelimit, "WINDOW_SECONDS", 3600)


async def post(
    client: httpx.AsyncClient, update: Any, *, secret: str = TELEGRAM_SECRET
) -> httpx.Response:
    content = update if isinstance(update, bytes) else json.dumps(update).encode()
    return await client.post(
        "/webhooks/telegram",
        content=content,
        headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
    )


async def test_a_sender_over_the_limit_is_stored_and_told_once_in_their_language(
    client: httpx.AsyncClient,
    state: AppState,
    rasa: ScriptedRasa,
    worker: Worker,
    fake_telegram: FakeTelegram,
) -> None:
    for n in range(6):
        update = text_update(900 + n, 4242, f"message {n}", language_code="fr")
        assert (await post(client, update)).status_code == 200
    conversation_id = rows(state)[0].conversation_id

    await worker.handle_conversation(conversation_id)

    # Nothing valid is lost: every message is stored, the later ones marked.
    stored = rows(state, direction="in")
    assert [(m.body, m.error) for m in stored] == [
        ("message 0", None),
        ("message 1", None),
        ("message 2", None),
        ("message 3", RATE_LIMITED_FIRST),
        ("message 4", RATE_LIMITED),
        ("message 5", RATE_LIMITED),
    ]
    assert [text for text, _metadata in rasa.received] == ["message 0", "message 1", "message 2"]
    told = [m.body for m in rows(state, direction="out")]
    assert told[-1] == state.catalogs.translate("fr", TOO_FAST).text
    assert told.count(told[-1]) == 1
    assert told[-1] != TOO_FAST


async def test_a_source_of_refused_requests_gets_429_with_retry_after(
    client: httpx.AsyncClient, state: AppState
) -> None:
    forged = [
        await post(client, text_update(1000 + n, 5000, "hello"), secret="guessed") for n in range(8)
    ]
    valid_after = await post(client, text_update(1100, 5001, "hello"))

    assert [a.status_code for a in forged] == [403] * 8
    assert valid_after.status_code == 429
    assert 0 < int(valid_after.headers["Retry-After"]) <= 3600
    # A refused request stores nothing: the provider delivers it again later.
    assert rows(state) == []


async def test_signed_requests_never_count_against_their_source(
    client: httpx.AsyncClient, state: AppState
) -> None:
    answers = [await post(client, text_update(1200 + n, 6000 + n, "hello")) for n in range(12)]

    assert [a.status_code for a in answers] == [200] * 12
    assert len(rows(state, direction="in")) == 12


async def test_a_source_without_refusals_is_looked_up_once_a_period(
    client: httpx.AsyncClient, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    peek = state.limiter.peek

    async def counting_peek(key: str, limit: int, window: int | None = None) -> Any:
        looked_up.append(key)
        return await peek(key, limit, window)

    monkeypatch.setattr(state.limiter, "peek", counting_peek)
    # However slow the machine, the five requests fall within the period.
    monkeypatch.setattr(ratelimit.SourceLimit, "CLEAR_FOR_SECONDS", 60.0)

    answers = [await post(client, text_update(1400 + n, 8000 + n, "hello")) for n in range(5)]
    forged = await post(client, text_update(1410, 8100, "hello"), secret="guessed")
    after = await post(client, text_update(1411, 8101, "hello"))

    assert [a.status_code for a in answers] == [200] * 5
    # Valid requests within the period: one look-up. A refusal: looked up on the next one.
    assert (forged.status_code, after.status_code) == (403, 200)
    assert len(looked_up) == 2


async def test_the_source_limit_guards_only_webhooks(client: httpx.AsyncClient) -> None:
    for n in range(9):
        await post(client, text_update(1300 + n, 7000, "hello"), secret="guessed")

    assert (await client.get("/healthz")).status_code != 429


async def test_an_oversized_update_is_refused_with_413(
    client: httpx.AsyncClient, state: AppState
) -> None:
    update = text_update(1100, 4243, "x" * (MAX_UPDATE_BYTES + 1))

    assert (await post(client, update)).status_code == 413
    assert rows(state) == []
