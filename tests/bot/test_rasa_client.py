from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.config import Secret
from bot.errors import RasaUnavailable
from bot.rasa_client import RasaClient, answer_in, replica_for
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


def user(message_id: int | None) -> dict[str, Any]:
    return {"event": "user", "text": "...", "metadata": {"message_id": message_id}}


def bot(text: str | None, **data: Any) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": None, "custom": None} | data}


ACTION = {"event": "action", "name": "action_listen"}
CHOICES = [{"title": "Yes", "payload": "/affirm"}]
CONTROL = {"helpline": {"open_case": {"reason": "request_human"}}}

CASES = {
    "never received": ([user(1), bot("Hi."), ACTION], 2, None),
    "answered": (
        [user(1), bot("Hi."), user(2), bot("Wages."), bot("More?")],
        2,
        [
            {"text": "Wages."},
            {"text": "More?"},
        ],
    ),
    "up to the next message": (
        [user(2), bot("A."), ACTION, user(3), bot("B.")],
        2,
        [{"text": "A."}],
    ),
    "buttons and controls": (
        [user(5), bot("Share?", buttons=CHOICES), bot(None, custom=CONTROL)],
        5,
        [
            {"text": "Share?", "buttons": CHOICES},
            {"custom": CONTROL},
        ],
    ),
    "a turn without words": ([user(7), ACTION], 7, []),
    "a message without our metadata": ([{"event": "user", "text": "hi"}, bot("Hi.")], 1, None),
}


@pytest.mark.parametrize(("events", "message_id", "expected"), CASES.values(), ids=CASES.keys())
def test_answer_in_a_tracker(
    events: list[dict[str, Any]], message_id: int, expected: list[dict[str, Any]] | None
) -> None:
    assert answer_in(events, message_id) == expected
