from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import cases, closing, erasure, i18n
from bot.app_state import AppState
from bot.config import Settings
from bot.errors import CaseConflict
from bot.i18n import Catalogs
from bot.inbox import accept, find_contact
from bot.models import Alert, Case, CaseEvent, Contact, Conversation, Message, utcnow
from bot.worker import FIRST_ANSWER_NOTICE, Turn, Worker, mask_numbers
from channels.base import Inbound, Media
from tests.helpers import factories
from tests.helpers.app import make_state
from tests.helpers.catalogs import write_catalog
from tests.helpers.providers import ScriptedRasa, rows
from tests.helpers.rasa_store import stored_text, write_tracker

MEDIA_ONLY = (
    "I can only read written messages. Please write your question in words. "
    'To talk to a person, write "person".'
)
MEDIA_ONLY_FR = (
    "Je ne peux lire que les messages écrits. Écrivez votre question avec des mots. "
    "Pour parler à une personne, écrivez « personne »."
)
NOTICE = 'This chat is confidential. To erase it, write "delete".'
NOTICE_FR = 'Cette discussion est confidentielle. Pour l\'effacer, écrivez "supprimer".'


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


def open_case(state: AppState) -> int:
    """Amina's conversation with a case open on it (human mode); returns the case's id."""
    with state.db.session() as session:
        conversation = factories.conversation(session, address="simulator:amina")
        return factories.case(session, conversation).id


def messages(state: AppState, conversation_id: int) -> list[tuple[str, str, str | None, str]]:
    with state.db.session() as session:
        rows = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return [(m.direction, m.author, m.body, m.status) for m in rows]


async def test_human_mode_message_lands_on_the_case_and_the_bot_is_silent(
    state: AppState, worker: Worker
) -> None:
    case_id = open_case(state)
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
    write_catalog(
        tmp_path / "locales",
        "fr",
        [
            (MEDIA_ONLY, MEDIA_ONLY_FR),
            (FIRST_ANSWER_NOTICE, NOTICE_FR.replace("supprimer", "{word}")),
        ],
    )
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(tmp_path / "locales"))
    conversation_id = receive(state, None, language="fr", media=(Media("image", "image/jpeg"),))

    await worker.handle_conversation(conversation_id)

    # The first answer to a new person also says the chat is confidential and how to erase it.
    assert messages(state, conversation_id) == [
        ("in", "person", None, "done"),
        ("out", "bot", NOTICE_FR, "delivered"),
        ("out", "bot", MEDIA_ONLY_FR, "delivered"),
    ]


async def test_image_only_message_in_english(
    state: AppState, worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "_catalogs", Catalogs(tmp_path / "locales"))
    conversation_id = receive(state, None, media=(Media("image", "image/jpeg"),))

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id)[-2:] == [
        ("out", "bot", NOTICE, "delivered"),
        ("out", "bot", MEDIA_ONLY, "delivered"),
    ]


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
    case_id = open_case(state)
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


# Erasure, safe words and the first answer -------------------------------------------------

CONFIRM = {
    "text": "Do you want to delete this whole chat? This cannot be undone.",
    "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
}
ERASED = ({"custom": {"helpline": {"erase": {}}}}, {"text": "Done. This chat is deleted."})


@pytest.fixture
def rasa(state: AppState) -> ScriptedRasa:
    scripted = ScriptedRasa()
    scripted.answer("/erase_data", CONFIRM)
    scripted.answer("/affirm", *ERASED)
    scripted.answer("/deny", {"text": "OK, nothing was deleted."})
    state.rasa = scripted  # type: ignore[assignment]
    return scripted


def say(state: AppState, text: str, number: int, language: str | None = None) -> int:
    return receive(state, text, language=language, provider_id=f"say-{number}")


@pytest.mark.parametrize(
    ("language", "word"),
    [
        ("en", "DELETE"),
        ("ar", "حذف"),
        ("fr", "Supprimer !"),
        ("es", "borrar"),
        ("tl", "burahin"),
        ("id", "Hapus"),
        ("ne", "मेटाउ"),
        ("am", "ሰርዝ"),
    ],
    ids=["en", "ar", "fr", "es", "tl", "id", "ne", "am"],
)
async def test_the_erase_keyword_of_every_language_asks_first_then_erases(
    state: AppState, worker: Worker, rasa: ScriptedRasa, language: str, word: str
) -> None:
    conversation_id = say(state, word, 1, language)

    await worker.handle_conversation(conversation_id)

    # Rasa reads the erase intent and asks; nothing is erased before the answer.
    assert [text for text, _metadata in rasa.received] == ["/erase_data"]
    assert messages(state, conversation_id)[0] == ("in", "person", word, "done")
    assert messages(state, conversation_id)[-1][2] == CONFIRM["text"]

    say(state, "/affirm", 2)
    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id) == []
    with state.db.session() as session:
        assert find_contact(session, "web", "simulator:amina") is None


async def test_erasing_while_a_case_is_open_closes_it_as_erased(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    conversation_id = say(state, "they took my passport", 1)
    with state.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        case_id = factories.case(session, conversation).id
        session.get(Message, 1).status = "done"  # type: ignore[union-attr]

    say(state, "delete", 2)
    await worker.handle_conversation(conversation_id)
    # The answer to the question goes to the bot too, not to the caseworker.
    say(state, "/affirm", 3)
    await worker.handle_conversation(conversation_id)

    assert [text for text, _metadata in rasa.received] == ["/erase_data", "/affirm"]
    assert messages(state, conversation_id) == []
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == (cases.CLOSED, "erased")
        assert ("closed", {"outcome": "erased"}) in [(e.kind, e.data) for e in case.events]


async def test_a_person_who_keeps_their_chat_stays_with_their_caseworker(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    conversation_id = say(state, "hello", 1)
    with state.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        case_id = factories.case(session, conversation).id
        session.get(Message, 1).status = "done"  # type: ignore[union-attr]

    for number, text in enumerate(["delete", "/deny", "where are you?"], start=2):
        say(state, text, number)
        await worker.handle_conversation(conversation_id)

    assert [text for text, _metadata in rasa.received] == ["/erase_data", "/deny"]
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == cases.QUEUED
        on_case = session.scalars(select(Message.body).where(Message.case_id == case_id)).all()
        assert on_case == ["where are you?"]


async def test_a_safe_word_gets_an_innocuous_answer_and_rasa_forgets_the_conversation(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    conversation_id = say(state, "hello", 1)
    with state.db.session() as session:
        pseudonym = session.get(Conversation, conversation_id).contact.pseudonym  # type: ignore[union-attr]
    write_tracker(state.settings, pseudonym, "my madam beats me", utcnow())
    say(state, "Order status", 2)
    with state.db.session() as session:
        session.get(Message, 1).status = "done"  # type: ignore[union-attr]

    await worker.handle_conversation(conversation_id)

    assert rasa.received == []
    # Innocuous, and nothing about the helpline, even as the first answer.
    assert [m[2] for m in messages(state, conversation_id) if m[0] == "out"] == [
        "Your order has been shipped and will arrive in 3 to 5 days. "
        "Thank you for shopping with us."
    ]
    assert "my madam beats me" not in stored_text(state.settings)


async def test_a_safe_word_on_an_open_case_stops_the_caseworker_until_the_person_writes(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    with state.db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)
        conversation = factories.conversation(session, address="simulator:amina", mode="human")
        case_id = factories.case(session, conversation).id
        cases.claim(session, caseworker, case_id)
        conversation_id = conversation.id

    say(state, "order status", 1)
    await worker.handle_conversation(conversation_id)

    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.events[-1].kind == "safe_word"
        with pytest.raises(CaseConflict, match="safe word"):
            cases.add_caseworker_message(session, caseworker, case_id, "Are you safe?")

    say(state, "I am alone now", 2)
    await worker.handle_conversation(conversation_id)

    with state.db.session() as session:
        cases.add_caseworker_message(session, caseworker, case_id, "Are you safe?")


async def test_the_first_answer_is_prefixed_once_and_not_when_it_already_says_how_to_erase(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    rasa.answer("what are my rights", {"text": "You have the right to a rest day."})
    rasa.answer("hi", {"text": 'Hello. Write "delete" to erase this chat.'})

    first = say(state, "what are my rights", 1)
    await worker.handle_conversation(first)
    say(state, "what are my rights", 2)
    await worker.handle_conversation(first)
    second = receive(state, "hi", address="simulator:rosa", provider_id="say-3")
    await worker.handle_conversation(second)

    assert [m[2] for m in messages(state, first) if m[0] == "out"] == [
        'This chat is confidential. To erase it, write "delete".',
        "You have the right to a rest day.",
        "You have the right to a rest day.",
    ]
    assert [m[2] for m in messages(state, second) if m[0] == "out"] == [
        'Hello. Write "delete" to erase this chat.'
    ]


async def test_the_helpline_never_writes_first(
    state: AppState, rasa: ScriptedRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's whole loop (sweeps, retention) over answered conversations sends nothing."""
    rasa.answer("hello", {"text": "Hello."})
    with state.db.session() as session:
        for n in range(3):
            conversation = factories.conversation(session, address=f"simulator:p{n}")
            factories.inbound(session, conversation, "hello", status="done")
        closed = factories.case(session, factories.conversation(session, address="simulator:c"))
        closed.status = cases.CLOSED
    monkeypatch.setattr("bot.worker.SWEEP_SECONDS", 0.01)
    worker = Worker(state)

    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    with state.db.session() as session:
        assert session.scalars(select(Message).where(Message.direction == "out")).all() == []
    assert rasa.received == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +961 70 123 456", "call me on <number>"),
        ("my number 0501234567 please", "my number <number> please"),
        ("(971) 50-123-4567", "<number>"),
        ("رقمي ٠٥٠١٢٣٤٥٦٧", "رقمي <number>"),
        ("they pay me 1500 a month", "they pay me 1500 a month"),
        ("2", "2"),
        ("I owe 250000 rupees", "I owe 250000 rupees"),
    ],
    ids=[
        "spaced-international",
        "local",
        "brackets-dashes",
        "arabic-digits",
        "amount",
        "menu-number",
        "six-digit-amount",
    ],
)
def test_phone_numbers_are_masked_in_what_rasa_reads(text: str, expected: str) -> None:
    assert mask_numbers(text) == expected


async def test_rasa_reads_the_words_without_the_number_and_the_case_keeps_it(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    conversation_id = say(state, "help me my number is +971 50 123 4567", 1)

    await worker.handle_conversation(conversation_id)

    assert [text for text, _metadata in rasa.received] == ["help me my number is <number>"]
    assert messages(state, conversation_id)[0][2] == "help me my number is +971 50 123 4567"


async def test_a_wake_up_for_a_conversation_in_hand_returns_and_its_message_is_still_handled(
    state: AppState, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_case(state)
    conversation_id = receive(state, "first", provider_id="sim-1")
    handling = asyncio.Event()
    release = asyncio.Event()
    to_case = worker._to_case

    async def slow_process(snapshot: dict[str, Any]) -> bool:
        handling.set()
        await release.wait()
        return await asyncio.to_thread(to_case, snapshot["message_id"])

    monkeypatch.setattr(worker, "process", slow_process)
    first = asyncio.create_task(worker.handle_conversation(conversation_id))
    await asyncio.wait_for(handling.wait(), 10)
    receive(state, "second", provider_id="sim-2")

    # The second wake-up does not wait for the first to finish.
    await asyncio.wait_for(worker.handle_conversation(conversation_id), 1)
    release.set()
    await asyncio.wait_for(first, 10)

    assert messages(state, conversation_id) == [
        ("in", "person", "first", "done"),
        ("in", "person", "second", "done"),
    ]
    # Nothing is left in hand: the next wake-up takes the conversation itself.
    assert worker._active == {}


async def test_one_wake_up_handles_every_pending_message_in_order_without_a_last_empty_read(
    state: AppState, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_case(state)
    for n in range(3):
        conversation_id = receive(state, f"message {n}", provider_id=f"sim-{n}")
    reads: list[int | None] = []
    next_pending = worker._next_pending

    def counted(conversation_id: int) -> dict[str, Any] | None:
        snapshot = next_pending(conversation_id)
        reads.append(None if snapshot is None else snapshot["message_id"])
        return snapshot

    monkeypatch.setattr(worker, "_next_pending", counted)

    await worker.handle_conversation(conversation_id)

    assert [status for *_, status in messages(state, conversation_id)] == ["done"] * 3
    # Each read says whether another message waits: the last needs no read after it.
    assert len(reads) == 3 and None not in reads and reads == sorted(reads)


async def test_a_message_for_a_case_that_closed_meanwhile_is_read_again_at_once(
    state: AppState, worker: Worker, rasa: ScriptedRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    rasa.answer("hello again", {"text": "Hello."})
    case_id = open_case(state)
    conversation_id = receive(state, "hello again")
    to_case = worker._to_case

    def closed_meanwhile(message_id: int) -> bool:
        with state.db.session() as session:
            session.get(Case, case_id).status = "closed"  # type: ignore[union-attr]
        return to_case(message_id)

    monkeypatch.setattr(worker, "_to_case", closed_meanwhile)

    await worker.handle_conversation(conversation_id)

    # The bot answered it in the same wake-up, not at the next sweep.
    assert [text for text, _metadata in rasa.received] == ["hello again"]
    assert messages(state, conversation_id)[0] == ("in", "person", "hello again", "done")


async def test_a_message_rasa_already_answered_is_not_sent_to_rasa_again(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    rasa.answer("no", {"text": "Would you like a caseworker to see this?"})
    conversation_id = receive(state, "no")
    [message_id] = [r.id for r in rows(state, direction="in")]
    # An earlier attempt reached Rasa, then the worker died before its commit.
    await rasa.send("c_x", "no", {"message_id": message_id})
    with state.db.session() as session:
        session.get(Message, message_id).attempts = 1  # type: ignore[union-attr]

    await worker.handle_conversation(conversation_id)

    assert [text for text, _metadata in rasa.received] == ["no"]
    stored = messages(state, conversation_id)
    assert (stored[0], stored[-1]) == (
        ("in", "person", "no", "done"),
        ("out", "bot", "Would you like a caseworker to see this?", "delivered"),
    )


async def test_a_first_attempt_goes_to_rasa_with_the_message_id(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    rasa.answer("hello", {"text": "Hello."})
    conversation_id = receive(state, "hello")

    await worker.handle_conversation(conversation_id)

    [inbound] = rows(state, direction="in")
    assert [(text, metadata["message_id"]) for text, metadata in rasa.received] == [
        ("hello", inbound.id)
    ]
    assert (inbound.status, inbound.attempts) == ("done", 1)


async def test_an_empty_answer_rasa_did_not_record_is_a_failure_retried_later(
    state: AppState, worker: Worker, rasa: ScriptedRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rasa's REST channel answers 200 [] when its tracker or lock store failed.
    async def forgetful(sender: str, message_id: int) -> None:
        return None

    monkeypatch.setattr(rasa, "answer_of", forgetful)
    conversation_id = receive(state, "hello")

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id) == [("in", "person", "hello", "received")]
    assert worker._failures == {conversation_id: 1}


async def test_an_empty_answer_rasa_recorded_is_a_turn_without_words(
    state: AppState, worker: Worker, rasa: ScriptedRasa
) -> None:
    conversation_id = receive(state, "ok")

    await worker.handle_conversation(conversation_id)

    assert messages(state, conversation_id) == [("in", "person", "ok", "done")]


async def test_an_unexpected_error_is_retried_and_logged_without_the_message(
    state: AppState,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conversation_id = receive(state, "my passport was taken")

    async def broken(message_id: int) -> None:
        raise RuntimeError("my passport was taken, from +96170123456")

    monkeypatch.setattr(worker, "process", broken)
    await worker._limit.acquire()
    await worker._handle_wakeup(conversation_id, None)

    assert worker._failures == {conversation_id: 1}
    assert "RuntimeError at test_worker.py" in caplog.text
    assert "passport" not in caplog.text and "+961" not in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        "我的老板不给我工资已经三个月了",
        "මගේ හාම්පුතා මාස තුනක් පඩි ගෙව්වේ නැහැ",
        "Мой работодатель не платит мне зарплату",
    ],
    ids=["chinese", "sinhala", "russian"],
)
async def test_a_message_in_an_unsupported_language_gets_the_language_menu(
    state: AppState, worker: Worker, text: str
) -> None:
    conversation_id = receive(state, text)

    await worker.handle_conversation(conversation_id)

    sent = messages(state, conversation_id)
    assert sent[0] == ("in", "person", text, "done")
    answers = [body for direction, author, body, _ in sent if (direction, author) == ("out", "bot")]
    assert any(body and body.startswith("Which language do you want?") for body in answers)
    with state.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert [choice["payload"] for choice in conversation.last_menu or []] == [
            f'/choose_language{{"language":"{code}"}}'
            for code in ("en", "ar", "fr", "es", "tl", "id", "ne", "am")
        ]


@pytest.mark.parametrize(
    "text",
    ["ok", '/choose_language{"language":"zh"}', "他们打我，救命"],
    ids=["short", "payload", "red-flag-in-chinese-goes-to-rasa"],
)
async def test_messages_that_must_reach_rasa_are_not_answered_with_the_menu(
    state: AppState, worker: Worker, text: str
) -> None:
    conversation_id = receive(state, text)

    await worker.handle_conversation(conversation_id)

    # No Rasa in these tests: a message meant for it stays received.
    assert messages(state, conversation_id) == [("in", "person", text, "received")]
