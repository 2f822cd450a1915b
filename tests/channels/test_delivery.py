"""Outbound delivery through each provider channel, against the provider fakes' faults.

What the outbox does with a failure is the same everywhere; what differs is how each
channel reads its provider's answer (Retry-After or parameters.retry_after, error
codes, time-outs of its client), which is what these tests exercise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot import outbox
from bot.app_state import AppState
from bot.inbox import accept
from bot.models import Message, utcnow
from channels import telegram
from channels.base import Inbound, Outgoing
from channels.telegram import TelegramChannel
from channels.twilio import TwilioChannel
from tests.helpers.fake_http import FakeServer, Fault
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.providers import case_events, contact_of, new_conversation, queue, rows

# python-telegram-bot warns about its own use of RetryAfter.retry_after.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@dataclass(frozen=True)
class Provider:
    channel: str
    address: str
    fake: str  # the fixture
    rejected: str  # the error recorded for the fake's rejection


PROVIDERS = [
    Provider(
        "sms",
        "+96170123456",
        "fake_twilio",
        "twilio 21610: refused (HTTP 400): the person unsubscribed (replied STOP); "
        "they must reply START first",
    ),
    Provider(
        "whatsapp",
        "whatsapp:+639171234567",
        "fake_twilio",
        "twilio 21610: refused (HTTP 400): the person unsubscribed (replied STOP); "
        "they must reply START first",
    ),
    Provider(
        "telegram",
        "700100200",
        "fake_telegram",
        "telegram: forbidden (403): the person blocked the bot or left Telegram",
    ),
]


@pytest.fixture(params=PROVIDERS, ids=[p.channel for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    chosen: Provider = request.param
    return chosen


@pytest.fixture
def fake(request: pytest.FixtureRequest, provider: Provider) -> FakeServer:
    found: FakeServer = request.getfixturevalue(provider.fake)
    return found


@pytest.fixture(autouse=True)
def unpaced(state: AppState, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the providers' answers; pacing is tested in test_pacing."""
    for channel in state.channels.values():
        monkeypatch.setattr(channel, "_pacer", None)


async def impatient(state: AppState, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the channel's client give up on an unanswered request after 0.3 s."""
    channel = state.channels[provider.channel]
    if isinstance(channel, TwilioChannel):
        monkeypatch.setattr(channel.client.http_client, "timeout", 0.3)
    else:
        assert isinstance(channel, TelegramChannel)
        monkeypatch.setattr(telegram, "SEND_TIMEOUT", 0.3)
        await channel.close()
        channel.bot = telegram.make_bot(state.settings)


def hello(state: AppState, provider: Provider, *, with_case: bool = False) -> int:
    conversation_id = new_conversation(
        state, provider.channel, provider.address, with_case=with_case
    )
    [message_id] = queue(state, conversation_id, Outgoing("Hello."))
    return message_id


async def test_a_rate_limit_is_waited_out_as_the_provider_says(
    state: AppState, provider: Provider, fake: FakeServer
) -> None:
    fake.fail_next(Fault.rate_limit(retry_after=1))
    message_id = hello(state, provider)

    assert await outbox.deliver(state, message_id) == "sent"

    first, second = fake.sent()
    assert second.at - first.at >= 0.95
    assert [(r.status, r.attempts, r.error) for r in rows(state, id=message_id)] == [
        ("sent", 2, None)
    ]


async def test_server_errors_and_time_outs_are_retried_and_sent_once(
    state: AppState, provider: Provider, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await impatient(state, provider, monkeypatch)
    fake.fail_next(Fault.server_error(), Fault.timeout(seconds=2), Fault.server_error())
    message_id = hello(state, provider)

    assert await outbox.deliver(state, message_id) == "sent"

    assert len(fake.sent()) == 4
    assert [(r.status, r.attempts, r.error) for r in rows(state, id=message_id)] == [
        ("sent", 4, None)
    ]


async def test_a_provider_that_keeps_failing_leaves_the_message_failed_after_five_attempts(
    state: AppState, provider: Provider, fake: FakeServer
) -> None:
    fake.fail_next(*[Fault.server_error()] * outbox.MAX_ATTEMPTS)
    message_id = hello(state, provider)

    assert await outbox.deliver(state, message_id) == "failed"

    assert len(fake.sent()) == outbox.MAX_ATTEMPTS
    [row] = rows(state, id=message_id)
    assert (row.status, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert row.error in {"twilio: HTTP 500", "telegram: NetworkError"}


async def test_a_long_wait_leaves_the_message_queued_for_the_sweep(
    state: AppState, provider: Provider, fake: FakeServer
) -> None:
    fake.fail_next(Fault.rate_limit(retry_after=3600))
    message_id = hello(state, provider)

    started = time.monotonic()
    assert await outbox.deliver(state, message_id) == "queued"

    assert time.monotonic() - started < 5
    [row] = rows(state, id=message_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.error in {"twilio: HTTP 429", "telegram: flood control (429)"}


async def test_a_rejection_is_permanent_shown_on_the_case_and_lasts_until_the_person_writes(
    state: AppState, provider: Provider, fake: FakeServer
) -> None:
    fake.fail_next(Fault.reject())
    message_id = hello(state, provider, with_case=True)

    assert await outbox.deliver(state, message_id) == "failed"

    assert len(fake.sent()) == 1
    [row] = rows(state, id=message_id)
    assert (row.status, row.error) == ("failed", provider.rejected)
    assert provider.address not in provider.rejected
    assert case_events(state)[-1] == (
        "delivery_failed",
        {"message_id": message_id, "error": provider.rejected},
    )
    assert contact_of(state, row.conversation_id).unreachable is True

    with state.db.session() as session:
        accept(session, Inbound(provider.channel, provider.address, "again-1", "I am back"))

    assert contact_of(state, row.conversation_id).unreachable is False


def strand(state: AppState, message_id: int, *, provider_id: str | None = None) -> None:
    """Leave the row as a deliverer that died mid-send does: "sending", its lease over."""
    with state.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        message.status = "sending"
        message.provider_id = provider_id
        message.lease_until = utcnow() - timedelta(seconds=1)


# Twilio can be asked what it received; Telegram cannot, so a row there is never resent.
AFTER_A_DEATH_MID_SEND = {
    "sms": "sent",
    "whatsapp": "sent",
    "telegram": "failed",
}


async def test_a_row_whose_deliverer_died_after_the_provider_took_it_is_not_sent_again(
    state: AppState, provider: Provider, fake: FakeServer
) -> None:
    message_id = hello(state, provider)
    assert await outbox.deliver(state, message_id) == "sent"
    [took] = fake.sent()
    strand(state, message_id)

    await outbox.recover(state)

    assert len(fake.sent()) == 1
    [row] = rows(state, id=message_id)
    assert (row.status, row.lease_until) == (AFTER_A_DEATH_MID_SEND[provider.channel], None)
    if provider.fake == "fake_twilio":
        assert row.provider_id == next(iter(fake.messages))  # type: ignore[attr-defined]
    else:
        assert row.error == (
            "telegram: interrupted while sending and telegram cannot be asked what it "
            "received; not sent again so that it cannot arrive twice"
        )
    await outbox.deliver_all(state, [message_id])
    assert fake.sent() == [took]


async def test_a_row_the_provider_never_got_is_queued_again_and_sent_once(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    conversation_id = new_conversation(state, "sms", "+96170123456")
    [message_id] = queue(state, conversation_id, Outgoing("Hello."))
    strand(state, message_id)

    await outbox.recover(state)
    assert [r.status for r in rows(state, id=message_id)] == ["queued"]
    assert await outbox.deliver(state, message_id) == "sent"

    assert [r.params["Body"] for r in fake_twilio.sent()] == ["Hello."]


async def test_a_row_still_leased_is_left_to_its_deliverer(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    conversation_id = new_conversation(state, "sms", "+96170123456")
    [message_id] = queue(state, conversation_id, Outgoing("Hello."))
    strand(state, message_id)
    with state.db.session() as session:
        session.get(Message, message_id).lease_until = utcnow() + timedelta(seconds=30)  # type: ignore[union-attr]

    await outbox.recover(state)

    assert [r.status for r in rows(state, id=message_id)] == ["sending"]
    assert fake_twilio.recorded() == []


async def test_an_unexpected_error_while_sending_leaves_the_row_for_recovery_and_logs_no_text(
    state: AppState, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    conversation_id = new_conversation(state, "sms", "+96170123456")
    [message_id] = queue(state, conversation_id, Outgoing("Hello."))

    async def broken(address: str, message: Outgoing) -> str:
        raise ValueError(f"cannot send {message.text!r} to {address}")

    monkeypatch.setattr(state.channels["sms"], "send", broken)
    assert await outbox.deliver(state, message_id) == "sending"

    [row] = rows(state, id=message_id)
    assert row.status == "sending" and row.lease_until is not None
    assert "ValueError" in caplog.text
    assert "Hello." not in caplog.text and "+96170123456" not in caplog.text


def test_deliverable_rows_keep_each_conversations_order_behind_a_part_being_sent(
    state: AppState,
) -> None:
    first = new_conversation(state, "sms", "+96170123456")
    second = new_conversation(state, "sms", "+96170654321")
    left_behind, answer = queue(state, first, Outgoing("Hello."), Outgoing("Wages."))
    [blocked, waiting] = queue(state, second, Outgoing("Hello."), Outgoing("Wages."))
    strand(state, blocked)

    with state.db.session() as session:
        assert outbox.deliverable(session) == [left_behind, answer]
        assert outbox.deliverable(session, first) == [left_behind, answer]
        assert outbox.deliverable(session, second) == []
    assert waiting > blocked
