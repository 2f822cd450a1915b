from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cases, closing, erasure, i18n
from bot.app_state import AppState
from bot.config import Settings
from bot.i18n import Catalogs
from bot.inbox import accept, find_contact
from bot.models import Alert, Case, CaseEvent, Contact, Conversation, Message, utcnow
from bot.worker import Turn, Worker
from channels.base import Inbound, Media
from tests.helpers import factories
from tests.helpers.app import make_state
from tests.helpers.catalogs import write_catalog

MEDIA_ONLY = (
    "I can only read written messages. Please write your question in words. "
    'To talk to a person, write "person".'
)
MEDIA_ONLY_FR = (
    "Je ne peux lire que les messages écrits. Écrivez votre question avec des mots. "
    "Pour parler à une personne, écrivez « personne »."
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build(environ: dict[str, str], rasa_url: str, monkeypatch: pytest.MonkeyPatch) -> AppState:
    return make_state(Settings.load(environ | {"RASA_URL": rasa_url}, env_file=None), monkeypatch)


@pytest.fixture
async def state(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AppState]:
    # No Rasa: a message that reached it would stay "received". The bot-mode path,
    # controls from actions and tracker resets run against the real Rasa in tests/integration.
    state = build(environ, f"http://127.0.0.1:{closed_port()}", monkeypatch)
    yield state
    await state.close()


@pytest.fixture
async def worker(state: AppState) -> AsyncIterator[Worker]:
    worker = Worker(state)
    yield worker
    for task in list(worker._tasks):
        task.cancel()
    await asyncio.gather(*worker._tasks, return_exceptions=True)


def receive(
    state: AppState,
    text: str | None = "hello",
    *,
    address: str = "simulator:amina",
    language: str | None = None,
    media: tuple[Media, ...] = (),
    provider_id: str | None = None,
) -> int:
    """Store an inbound web message as the simulator would; returns its conversation id."""
    with state.db.session() as session:
        accepted = accept(
            session,
            Inbound(
                channel="web",
                address=address,
                provider_id=provider_id or f"sim-{text}-{len(media)}",
                text=text,
                media=media,
                language_hint=language,
            ),
        )
        return accepted.conversation_id


def messages(state: AppState, conversation_id: int) -> list[tuple[str, str, str | None, str]]:
    with state.db.session() as session:
        rows = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return [(m.direction, m.author, m.body, m.status) for m in rows]


async def test_human_mode_message_lands_on_the_case_and_the_bot_is_silent(
    state: AppState, worker: Worker
) -> None:
    with state.db.session() as session:
        conversation = factories.conversation(session, address="simulator:amina")
        case_id = factories.case(session, conversation).id
    conversation_id = receive(state, "are you still there?")

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id) == [("in", "person", "are you still there?", "done")]
    with state.db.session() as session:
        message = session.scalar(select(Message))
        assert message is not None and message.case_id == case_id
        case = session.get(Case, case_id)
        assert case is not None
        assert [(e.kind, e.data) for e in case.events][-1] == (
            "message",
            {"direction": "in", "message_id": message.id},
        )


async def test_image_only_message_gets_the_written_messages_answer_in_the_conversations_language(
    state: AppState,
    worker: Worker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_catalog(tmp_path / "locales", "fr", [(MEDIA_ONLY, MEDIA_ONLY_FR)])
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(tmp_path / "locales"))
    conversation_id = receive(state, None, language="fr", media=(Media("image", "image/jpeg"),))

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id) == [
        ("in", "person", None, "done"),
        ("out", "bot", MEDIA_ONLY_FR, "delivered"),
    ]


async def test_image_only_message_in_english(
    state: AppState, worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(tmp_path / "locales"))
    conversation_id = receive(state, None, media=(Media("image", "image/jpeg"),))

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id)[-1] == ("out", "bot", MEDIA_ONLY, "delivered")


async def test_unreachable_rasa_leaves_the_message_received(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = build(environ, f"http://127.0.0.1:{closed_port()}", monkeypatch)
    worker = Worker(state)
    try:
        conversation_id = receive(state, "hello")

        await worker.handle_conversation(conversation_id)

        assert messages(state, conversation_id) == [("in", "person", "hello", "received")]
        assert worker._failures == {conversation_id: 1}
    finally:
        for task in list(worker._tasks):
            task.cancel()
        await asyncio.gather(*worker._tasks, return_exceptions=True)
        await state.close()


async def test_erasure_removes_messages_closes_the_case_and_detaches_the_address(
    state: AppState,
) -> None:
    with state.db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)
        conversation = factories.conversation(session, address="simulator:amina")
        factories.inbound(session, conversation, "my employer took my passport")
        case = factories.case(session, conversation)
        cases.claim(session, caseworker, case.id)
        cases.add_caseworker_message(session, caseworker, case.id, "Where are you now?")
        cases.add_note(session, caseworker, case.id, "She is in Jounieh")
        conversation_id, case_id, old_pseudonym = (
            conversation.id,
            case.id,
            conversation.contact.pseudonym,
        )

    with state.db.session() as session:
        returned = erasure.erase_in_database(session, conversation_id)

    assert returned == old_pseudonym
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == (cases.CLOSED, "erased")
        assert case.closed_at is not None
        assert [(e.kind, e.data.get("outcome")) for e in case.events][-1] == ("closed", "erased")
        assert (
            session.scalars(select(CaseEvent.text).where(CaseEvent.text.is_not(None))).all() == []
        )
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.mode == "bot"
        contact = conversation.contact
        assert (contact.address, contact.unreachable) == ("", True)
        assert contact.address_hash.startswith("erased:")
        assert contact.pseudonym != old_pseudonym
        assert find_contact(session, "web", "simulator:amina") is None
    # Writing again starts afresh: nothing links the new conversation to the erased one.
    assert receive(state, "hello again") != conversation_id
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2


async def test_erasure_of_an_unknown_conversation_is_a_no_op(state: AppState) -> None:
    with state.db.session() as session:
        assert erasure.erase_in_database(session, 999_999) is None


async def test_red_flags_in_human_mode_raise_the_case_risk_silently(
    state: AppState, worker: Worker
) -> None:
    with state.db.session() as session:
        conversation = factories.conversation(session, address="simulator:amina")
        case_id = factories.case(session, conversation).id
    conversation_id = receive(state, "now he says he will kill me")

    await worker.handle_conversation(conversation_id)

    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.risk, case.priority) == ("emergency", cases.PRIORITIES["emergency"])
        assert [i["code"] for i in cases.indicators_of(case)] == [
            "imminent_danger",
            "intimidation_threats",
        ]
    assert [m[0] for m in messages(state, conversation_id)] == ["in"]


def closed_and_asked(state: AppState, *, address: str = "simulator:amina") -> int:
    with state.db.session() as session:
        conversation = factories.conversation(session, address=address)
        case = factories.case(session, conversation)
        worker = factories.user(session, case.organisation)
        cases.claim(session, worker, case.id)
        cases.close(session, worker, case.id, "information_given")
        assert cases.ask_rating(session, case)
        return case.id


async def test_a_rating_reply_is_recorded_and_thanked_without_rasa(
    state: AppState, worker: Worker
) -> None:
    case_id = closed_and_asked(state)
    conversation_id = receive(state, "5")

    await worker.handle_conversation(conversation_id)

    thanks = closing.rating_thanks("en")
    assert messages(state, conversation_id) == [
        ("in", "person", "5", "done"),
        ("out", "bot", thanks, "delivered"),
    ]
    assert worker._failures == {}
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.rating == 5


async def test_a_digit_nobody_asked_for_goes_to_rasa(state: AppState, worker: Worker) -> None:
    conversation_id = receive(state, "5")

    await worker.handle_conversation(conversation_id)

    # Rasa is down in these tests: the message waits for it.
    assert messages(state, conversation_id) == [("in", "person", "5", "received")]
    assert worker._failures == {conversation_id: 1}


async def test_the_sweep_marks_missed_deadlines(state: AppState, worker: Worker) -> None:
    with state.db.session() as session:
        case = factories.case(session, priority="emergency")
        case.deadline_at = utcnow() - timedelta(minutes=1)

    assert (worker.sweep_deadlines(), worker.sweep_deadlines()) == (1, 0)
    await worker.sweep()
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1


async def test_an_open_case_control_within_seven_days_reopens_the_case(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = build(
        environ | {"FIRST_RESPONSE_MINUTES_HIGH": "30"},
        f"http://127.0.0.1:{closed_port()}",
        monkeypatch,
    )
    try:
        with state.db.session() as session:
            conversation = factories.conversation(session, address="simulator:amina")
            case = factories.case(session, conversation)
            caseworker = factories.user(session, case.organisation)
            cases.claim(session, caseworker, case.id)
            cases.close(session, caseworker, case.id, "referred_to_service")
            case_id = case.id
        receive(state, "I need a person again")
        with state.db.session() as session:
            message_id = session.scalar(select(Message.id).where(Message.direction == "in"))
        assert message_id is not None
        control = {"open_case": {"reason": "red_flag", "priority": "high", "risk": "high"}}

        Worker(state)._apply(message_id, Turn(controls=[control]))

        with state.db.session() as session:
            reopened = session.get(Case, case_id)
            assert reopened is not None
            assert (reopened.status, reopened.assigned_user_id) == (cases.CLAIMED, caseworker.id)
            assert reopened.deadline_at is not None
            assert reopened.deadline_at <= utcnow() + timedelta(minutes=30)
            assert reopened.conversation.mode == "human"
            assert session.scalar(select(func.count()).select_from(Case)) == 1
            assert session.get(Message, message_id).case_id == case_id  # type: ignore[union-attr]
    finally:
        await state.close()
