from __future__ import annotations

import httpx
import pytest

from bot.config import Settings
from channels.registry import CHANNELS, channel_class
from tests.helpers.app import make_app

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "token"}


def test_every_registered_channel_names_itself() -> None:
    assert {name: channel_class(name).name for name in CHANNELS} == {
        name: name for name in CHANNELS
    }


@pytest.mark.parametrize(
    ("extra", "enabled"),
    [
        ({}, ["web"]),
        ({"HELPLINE_ENV": "production"}, []),
        (TWILIO | {"TWILIO_SMS_FROM": "+15005550006"}, ["web", "sms"]),
        (TWILIO | {"TWILIO_WHATSAPP_FROM": "+14155238886"}, ["web", "whatsapp"]),
        (
            TWILIO | {"TWILIO_SMS_FROM": "+15005550006", "TWILIO_WHATSAPP_FROM": "+14155238886"},
            ["web", "sms", "whatsapp"],
        ),
        (
            {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": "s"},
            ["web", "telegram"],
        ),
    ],
    ids=["nothing", "production", "sms", "whatsapp", "sms-and-whatsapp", "telegram"],
)
async def test_channels_are_on_when_their_settings_are_set_and_their_webhooks_answer(
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, str],
    enabled: list[str],
) -> None:
    if extra.get("HELPLINE_ENV") == "production":
        extra = extra | {
            "HELPLINE_SECRET_KEY": "k" * 32,
            "HELPLINE_DATA_KEY": "A" * 43 + "=",
            "RASA_TOKEN": "t",
            "PUBLIC_BASE_URL": "https://helpline.example.org",
        }
    app = make_app(Settings.load(environ | extra, env_file=None), monkeypatch)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses = {
                path: (await client.post(path)).status_code
                for path in ("/webhooks/twilio", "/webhooks/telegram")
            }

        assert list(app.state.helpline.channels) == enabled
        # Unsigned requests: refused where the webhook is mounted, not found elsewhere.
        assert statuses == {
            "/webhooks/twilio": 403 if {"sms", "whatsapp"} & set(enabled) else 404,
            "/webhooks/telegram": 403 if "telegram" in enabled else 404,
        }
    finally:
        await app.state.helpline.close()
