"""The load generator: many people writing at once, to the helpline and to bare Rasa.

Each simulated person replays a script turn by turn, as a person would: they write, wait
for the whole answer, and write again. To the helpline, every message is a Twilio webhook
signed with twilio's ``RequestValidator``, and the answer is what the helpline asks the
fake Twilio API to send; to bare Rasa (the reference), the same message goes to Rasa's
REST channel with the metadata the helpline would send, and the answer is the response.
After each answer both wait the same ``pause`` before the next message, so that both see
the same number of conversations at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot import langid
from bot.languages import FALLBACK, normalise
from bot.worker import detected_language
from channels.twilio import country_of
from tests.bench.figures import Turn
from tests.helpers.fake_http import Answer, Recorded
from tests.helpers.fake_twilio import FakeTwilio, inbound_message, signature

SCRIPTS = Path(__file__).with_name("conversations.yml")
HELPLINE_NUMBER = "+15005550006"


@dataclass(frozen=True)
class Script:
    name: str
    language: str
    channel: str
    calling_code: str
    turns: tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    number: int
    script: Script
    address: str
    sender: str

    @property
    def phone(self) -> str:
        return self.address.removeprefix("whatsapp:")


def load_scripts(path: Path = SCRIPTS) -> list[Script]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Script(
            name=s["name"],
            language=s["language"],
            channel=s["channel"],
            calling_code=str(s["calling_code"]),
            turns=tuple(str(t) for t in s["turns"]),
        )
        for s in document["scripts"]
    ]


def conversations(scripts: Sequence[Script], count: int, *, series: int) -> list[Conversation]:
    """``count`` people cycling through the scripts; ``series`` keeps numbers apart between runs."""
    found = []
    for number in range(count):
        script = scripts[number % len(scripts)]
        phone = f"+{script.calling_code}7{series:02d}{number:05d}"
        prefix = "whatsapp:" if script.channel == "whatsapp" else ""
        found.append(
            Conversation(number, script, prefix + phone, f"bench_{series:02d}_{number:05d}")
        )
    return found


class BenchTwilio(FakeTwilio):
    """The fake Twilio API, telling the load generator's event loop when a message is sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop: asyncio.AbstractEventLoop | None = None
        # When each address was sent a message; only touched in the loop's thread.
        self._arrivals: dict[str, list[float]] = defaultdict(list)
        self._events: dict[str, asyncio.Event] = {}

    def _respond(self, request: Recorded) -> Answer | None:
        answer = super()._respond(request)
        if answer is not None and answer[0] == 201 and self.loop is not None:
            to = str(request.params.get("To", ""))
            self.loop.call_soon_threadsafe(self._arrived, to, request.at)
        return answer

    def _arrived(self, to: str, at: float) -> None:
        self._arrivals[to].append(at)
        if (event := self._events.get(to)) is not None:
            event.set()

    async def settled(
        self, to: str, since: float, *, at_least: int, timeout: float, quiet: float
    ) -> None:
        """Wait for ``at_least`` sends to ``to`` after ``since``, then for ``quiet`` seconds of none.

        The count comes from bare Rasa's answer to the same message: each of its texts is
        at least one message (SMS may cut a text into parts, sent one after the other).
        """
        event = self._events.setdefault(to, asyncio.Event())
        deadline = time.monotonic() + timeout

        def count() -> int:
            return sum(1 for at in self._arrivals[to] if at >= since)

        while count() < max(1, at_least):
            event.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return
        while True:
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), quiet)
            except TimeoutError:
                return

    def sends(self) -> list[tuple[float, str, str]]:
        """(time, to, body) of every message the helpline sent, from the fake's records."""
        return [
            (r.at, str(r.params.get("To", "")), str(r.params.get("Body", ""))) for r in self.sent()
        ]


async def _gated(
    people: Sequence[Conversation],
    concurrency: int,
    talk: Callable[[Conversation], Awaitable[list[Turn]]],
) -> list[Turn]:
    gate = asyncio.Semaphore(concurrency)

    async def one(person: Conversation) -> list[Turn]:
        async with gate:
            return await talk(person)

    results = await asyncio.gather(*(one(p) for p in people))
    return [turn for turns in results for turn in turns]


async def helpline(
    people: Sequence[Conversation],
    *,
    base_url: str,
    public_base_url: str,
    auth_token: str,
    fake: BenchTwilio,
    concurrency: int,
    pause: float,
    timeout: float,
    expected: dict[tuple[int, int], int] | None = None,
    redeliver_every: int = 0,
) -> list[Turn]:
    """Every person's script as signed Twilio webhooks; replies attributed later from the fake."""
    fake.loop = asyncio.get_running_loop()
    url = f"{public_base_url}/webhooks/twilio"
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    counter = iter(range(1, 1 << 30))
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:

        async def talk(person: Conversation) -> list[Turn]:
            turns = []
            for index, text in enumerate(person.script.turns):
                form = inbound_message(person.address, text, to=HELPLINE_NUMBER)
                headers = {"X-Twilio-Signature": signature(url, form, auth_token)}
                turn = Turn(person.number, index, sent_at=time.monotonic())
                if expected is not None:
                    turn.expected_replies = expected.get((person.number, index), 1)
                try:
                    response = await client.post("/webhooks/twilio", data=form, headers=headers)
                    turn.status = response.status_code
                except httpx.HTTPError:
                    turn.status = None
                turn.answered_at = time.monotonic()
                if redeliver_every and next(counter) % redeliver_every == 0:
                    # Twilio delivers a webhook again when the first answer was slow: same sid.
                    turn.redelivered = True
                    with contextlib.suppress(httpx.HTTPError):
                        await client.post("/webhooks/twilio", data=form, headers=headers)
                if turn.acknowledged and turn.expect_reply:
                    await fake.settled(
                        person.address,
                        turn.sent_at,
                        at_least=turn.expected_replies,
                        timeout=timeout,
                        quiet=pause,
                    )
                else:
                    await asyncio.sleep(pause)
                turns.append(turn)
            return turns

        return await _gated(people, concurrency, talk)


def worker_language(text: str, current: str) -> str:
    """The conversation's language after this message, by the worker's own rule."""
    return detected_language(text, current, langid.identify(text)) or current


def helpline_metadata(person: Conversation, language: str) -> dict[str, Any]:
    return {
        "channel": person.script.channel,
        "language": language,
        "country": country_of(person.phone),
    }


async def reference(
    people: Sequence[Conversation],
    *,
    rasa_urls: Sequence[str],
    replica_of: Callable[[str], int],
    concurrency: int,
    pause: float,
    timeout: float,
) -> list[Turn]:
    """Every person's script straight to Rasa's REST channel, with the helpline's metadata.

    The language in the metadata follows the worker's rule (``detected_language``, then the
    actions' ``set_language``), so that Rasa walks the same dialogue as behind the helpline.
    """
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    clients = [httpx.AsyncClient(base_url=u, timeout=timeout, limits=limits) for u in rasa_urls]
    try:

        async def talk(person: Conversation) -> list[Turn]:
            client = clients[replica_of(person.sender)]
            language = FALLBACK
            turns = []
            for index, text in enumerate(person.script.turns):
                language = worker_language(text, language)
                turn = Turn(person.number, index, sent_at=time.monotonic())
                try:
                    response = await client.post(
                        "/webhooks/rest/webhook",
                        json={
                            "sender": person.sender,
                            "message": text,
                            "metadata": helpline_metadata(person, language),
                        },
                    )
                    turn.status = response.status_code
                    body = response.json() if response.status_code == 200 else []
                except (httpx.HTTPError, ValueError):
                    body = []
                turn.answered_at = time.monotonic()
                for message in body if isinstance(body, list) else []:
                    control = (message.get("custom") or {}).get("helpline")
                    if isinstance(control, dict):
                        language = normalise(control.get("set_language")) or language
                        turn.hands_over = turn.hands_over or "open_case" in control
                    elif message.get("text"):
                        turn.replies.append((turn.answered_at, str(message["text"])))
                turn.expected_replies = len(turn.replies)
                turns.append(turn)
                await asyncio.sleep(pause)
            return turns

        return await _gated(people, concurrency, talk)
    finally:
        for client in clients:
            await client.aclose()
