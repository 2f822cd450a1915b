"""Names to channel classes; the application asks for the enabled ones."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app_state import AppState
    from bot.config import Settings
    from channels.base import Channel

# name -> "module:Class"; imported lazily so that a channel's client library loads only when on.
CHANNELS: dict[str, str] = {
    "web": "channels.web:WebChannel",
    "sms": "channels.twilio:SmsChannel",
    "whatsapp": "channels.twilio:WhatsAppChannel",
    "telegram": "channels.telegram:TelegramChannel",
}

# name -> whether the settings turn it on.
ENABLED_WHEN: dict[str, Callable[[Settings], bool]] = {
    # The simulator is for development: anyone could write as anyone through it.
    "web": lambda settings: settings.environment != "production",
    "sms": lambda settings: settings.twilio_enabled and bool(settings.twilio_sms_from),
    "whatsapp": lambda settings: settings.twilio_enabled and bool(settings.twilio_whatsapp_from),
    "telegram": lambda settings: settings.telegram_enabled,
}


def channel_class(name: str) -> type[Channel]:
    module_name, _, class_name = CHANNELS[name].partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module_name), class_name)
    return cls


def enabled_channels(state: AppState) -> dict[str, Channel]:
    """The simulator outside production, plus every provider channel that is configured."""
    return {
        name: channel_class(name)(state) for name in CHANNELS if ENABLED_WHEN[name](state.settings)
    }
