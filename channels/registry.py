"""Names to channel classes; the application asks for the enabled ones."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app_state import AppState
    from channels.base import Channel

# name -> "module:Class"; imported lazily so that a channel's client library loads only when on.
CHANNELS: dict[str, str] = {
    "web": "channels.web:WebChannel",
}


def channel_class(name: str) -> type[Channel]:
    module_name, _, class_name = CHANNELS[name].partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module_name), class_name)
    return cls


def enabled_channels(state: AppState) -> dict[str, Channel]:
    """The simulator outside production, plus every provider channel that is configured."""
    enabled: dict[str, Channel] = {}
    if state.settings.environment != "production":
        enabled["web"] = channel_class("web")(state)
    return enabled
