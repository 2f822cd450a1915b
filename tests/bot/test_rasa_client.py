from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Secret
from bot.errors import RasaUnavailable
from bot.rasa_client import RasaClient, replica_for
from tests.helpers.fake_http import Answer, FakeServer, Fault, Recorded

TOKEN = Secret("rasa-token")


class FakeRasa(FakeServer):
    """Rasa's REST channel and the parts of its HTTP API the helpline calls."""

    name = "fake-rasa"

    def is_send(self, request: Recorded) -> bool:
        return request.path == "/webhooks/rest/webhook"

    def answer(self, request: Recorded) -> Answer:
        if request.path == "/status":
            return 200, {}, {"model_id": self.name}
        if self.is_send(request):
            return 200, {}, [{"recipient_id": request.params["sender"], "text": self.url}]
        return 200, {}, {}

    def fault_answer(self, fault: Fault, request: Recorded) -> Answer:
        return 500, {}, {}


@pytest.fixture
def replicas() -> Iterator[list[FakeRasa]]:
    with FakeRasa() as first, FakeRasa() as second:
        yield [first, second]


def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


SENDERS = [f"c_{n:024x}" for n in range(40)]


def test_a_single_replica_takes_every_conversation() -> None:
    assert {replica_for(sender, 1) for sender in SENDERS} == {0}


def test_conversations_spread_over_replicas_and_each_keeps_its_own() -> None:
    chosen = [replica_for(sender, 2) for sender in SENDERS]

    assert set(chosen) == {0, 1}
    assert chosen == [replica_for(sender, 2) for sender in SENDERS]
    # Fixed values: every process, before and after a restart, agrees (no hash seed).
    assert [replica_for(sender, 3) for sender in SENDERS[:6]] == [1, 0, 1, 0, 2, 2]


async def test_every_message_of_a_conversation_goes_to_its_replica(
    replicas: list[FakeRasa],
) -> None:
    client = RasaClient([r.url for r in replicas], TOKEN)
    try:
        for sender in SENDERS[:10]:
            for text in ("hello", "my passport"):
                replies = await client.send(sender, text, {"channel": "sms"})
                assert replies == [
                    {"recipient_id": sender, "text": replicas[replica_for(sender, 2)].url}
                ]
    finally:
        await client.close()

    for number, replica in enumerate(replicas):
        senders = [r.params["sender"] for r in replica.sent()]
        assert senders == [s for s in SENDERS[:10] if replica_for(s, 2) == number for _ in "ab"]


async def test_status_fails_when_any_replica_is_down(replicas: list[FakeRasa]) -> None:
    up = RasaClient([r.url for r in replicas], TOKEN)
    half = RasaClient([replicas[0].url, closed_url()], TOKEN)
    try:
        assert await up.status() == {"model_id": "fake-rasa"}
        with pytest.raises(httpx.ConnectError):
            await half.status()
    finally:
        await up.close()
        await half.close()


async def test_an_unreachable_replica_is_rasa_unavailable() -> None:
    client = RasaClient(closed_url(), TOKEN)
    try:
        with pytest.raises(RasaUnavailable, match="Rasa did not answer"):
            await client.send("c_1", "hello", {})
    finally:
        await client.close()
