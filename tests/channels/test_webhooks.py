"""What every provider webhook shares: with the database down, the provider is told to come back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from bot.app_state import AppState
from bot.inbox import accept
from channels import webhooks
from tests.helpers.fake_telegram import text_update
from tests.helpers.fake_twilio import inbound_message, signature
from tests.helpers.providers import PUBLIC_BASE_URL, TELEGRAM_SECRET, rows


def twilio_request(sid: str) -> dict[str, Any]:
    form = inbound_message("+96170123456", "are you there?", sid=sid)
    url = PUBLIC_BASE_URL + "/webhooks/twilio"
    return {
        "url": "/webhooks/twilio",
        "data": form,
        "headers": {"X-Twilio-Signature": signature(url, form)},
    }


def telegram_request(update_id: int) -> dict[str, Any]:
    return {
        "url": "/webhooks/telegram",
        "content": json.dumps(text_update(update_id, 700100200, "are you there?")).encode(),
        "headers": {
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            "Content-Type": "application/json",
        },
    }


@pytest.mark.parametrize(
    "request_of",
    [lambda: twilio_request("SM" + "ab" * 16), lambda: telegram_request(42)],
    ids=["twilio", "telegram"],
)
async def test_with_the_database_down_the_provider_is_asked_to_deliver_again(
    client: httpx.AsyncClient,
    state: AppState,
    monkeypatch: pytest.MonkeyPatch,
    request_of: Any,
) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))

    monkeypatch.setattr(webhooks, "accept", down)
    refused = await client.post(**request_of())
    monkeypatch.setattr(webhooks, "accept", accept)
    delivered_again = await client.post(**request_of())

    assert (refused.status_code, refused.headers.get("retry-after")) == (503, "5")
    assert delivered_again.status_code == 200
    assert [m.body for m in rows(state, direction="in")] == ["are you there?"]
