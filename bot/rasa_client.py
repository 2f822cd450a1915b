"""Talking to the Rasa server: its REST channel for messages, its HTTP API for status.

Trackers are deleted in Rasa's store directly (bot.tracker_store): the API cannot.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.config import Secret
from bot.errors import RasaUnavailable


class RasaClient:
    def __init__(self, base_url: str, token: Secret, *, timeout: float = 60.0) -> None:
        self.base_url = base_url
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """One user message in, the bot's messages (texts and custom payloads) out."""
        try:
            response = await self._http.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer: {type(error).__name__}") from None
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        body = response.json()
        return body if isinstance(body, list) else []

    async def status(self) -> dict[str, Any]:
        response = await self._http.get(
            "/status", params={"token": self._token.reveal()}, timeout=3.0
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def close(self) -> None:
        await self._http.aclose()
