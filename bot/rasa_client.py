"""Talking to the Rasa server: its REST channel for messages, its HTTP API for status.

Trackers are deleted in Rasa's store directly (bot.tracker_store): the API cannot.

With several Rasa replicas, each conversation always goes to the same one (a hash of
its pseudonym): Rasa's lock store only keeps one conversation's messages in order
within one process, so two replicas must never work on the same conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import httpx

from bot.config import Secret
from bot.errors import RasaUnavailable


def replica_for(sender: str, replicas: int) -> int:
    """The replica that handles this conversation: stable across processes and restarts."""
    if replicas == 1:
        return 0
    digest = hashlib.blake2b(sender.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % replicas


class RasaClient:
    def __init__(
        self, base_urls: str | Sequence[str], token: Secret, *, timeout: float = 60.0
    ) -> None:
        self.base_urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not self.base_urls:
            raise ValueError("at least one Rasa URL")
        self.base_url = self.base_urls[0]
        self._token = token
        # One pool per replica; keep-alive connections for as many turns as the worker runs.
        self._replicas = [
            httpx.AsyncClient(
                base_url=url,
                timeout=httpx.Timeout(timeout, connect=5.0),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=64),
            )
            for url in self.base_urls
        ]

    def _http(self, sender: str) -> httpx.AsyncClient:
        return self._replicas[replica_for(sender, len(self._replicas))]

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """One user message in, the bot's messages (texts and custom payloads) out."""
        try:
            response = await self._http(sender).post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer: {type(error).__name__}") from None
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        body = response.json()
        return body if isinstance(body, list) else []

    async def answer_of(self, sender: str, message_id: int) -> list[dict[str, Any]] | None:
        """What Rasa answered to the helpline's message ``message_id``, or None if it never got it.

        Read from the conversation's tracker: the bot's messages after the user event
        whose metadata names the message, up to the next user event, in the shape the
        REST channel returns them.
        """
        try:
            response = await self._http(sender).get(
                f"/conversations/{sender}/tracker", params={"token": self._token.reveal()}
            )
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not answer: {type(error).__name__}") from None
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered {response.status_code} for a tracker")
        return answer_in(response.json().get("events") or [], message_id)

    async def status(self) -> dict[str, Any]:
        """The first replica's status; raises when any replica is down."""
        results = await asyncio.gather(*(self._status(http) for http in self._replicas))
        return results[0]

    async def _status(self, http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.get("/status", params={"token": self._token.reveal()}, timeout=3.0)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def close(self) -> None:
        for http in self._replicas:
            await http.aclose()


def answer_in(events: list[dict[str, Any]], message_id: int) -> list[dict[str, Any]] | None:
    """The bot messages that answered ``message_id`` in a tracker's events; None if not there."""
    answer: list[dict[str, Any]] | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if answer is not None:
                break
            if (event.get("metadata") or {}).get("message_id") == message_id:
                answer = []
        elif kind == "bot" and answer is not None:
            data = event.get("data") or {}
            reply: dict[str, Any] = {"text": event.get("text")}
            reply.update({key: data[key] for key in ("buttons", "custom") if data.get(key)})
            answer.append({key: value for key, value in reply.items() if value is not None})
    return answer
