from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot import cases, closing
from bot.app_state import AppState
from bot.config import Settings
from bot.models import Case, Message, User
from tests.helpers.app import make_state
from tests.helpers.providers import new_conversation, provider_settings

# Nothing is delivered here: the outbox rows are only queued.
UNUSED = "http://127.0.0.1:9"


@pytest.fixture
async def state(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AppState]:
    settings = Settings.load(
        environ | provider_settings("https://helpline.example.org", UNUSED, UNUSED),
        env_file=None,
    )
    made = make_state(settings, monkeypatch)
    yield made
    await made.close()


def close_case_of(
    state: AppState, conversation_id: int, outcome: str = "information_given"
) -> tuple[int, list[str]]:
    with state.db.session() as session:
        case = session.scalars(select(Case).where(Case.conversation_id == conversation_id)).one()
        user = User(
            organisation_id=case.organisation_id,
            username="amal",
            role="caseworker",
            password_hash="x",
        )
        session.add(user)
        session.flush()
        cases.claim(session, user, case.id)
        closed = closing.close_case(state, session, user, case.id, outcome)
        bodies = [session.get(Message, i).body or "" for i in closed.outbound]  # type: ignore[union-attr]
        return case.id, bodies


@pytest.mark.parametrize(
    ("channel", "address", "wrote_hours_ago", "told"),
    [
        ("whatsapp", "whatsapp:+9617000001", 2, True),
        ("whatsapp", "whatsapp:+9617000002", 25, False),
        ("sms", "+9617000003", 25, True),
        ("telegram", "4242", 50, True),
        ("telegram", "4243", 100, False),
        ("web", "simulator:amina", 0, True),
    ],
    ids=[
        "whatsapp-in-window",
        "whatsapp-after-24h",
        "sms",
        "telegram",
        "telegram-after-72h",
        "web",
    ],
)
def test_the_goodbye_and_the_rating_go_only_inside_the_reply_window(
    state: AppState, channel: str, address: str, wrote_hours_ago: float, told: bool
) -> None:
    conversation_id = new_conversation(
        state, channel, address, wrote_hours_ago=wrote_hours_ago, with_case=True
    )

    case_id, bodies = close_case_of(state, conversation_id)

    closed_text = state.nlg.render("utter_case_closed", language="en", channel=channel).text
    question = closing.rating_question("en")
    # WhatsApp's 24 hours, or the helpline's 72 on every channel: past them, nothing at all.
    assert bodies == ([closed_text, question] if told else [])
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.rating_requested_at is not None) == told
        assert case.conversation.mode == "bot"


def test_the_question_is_in_the_persons_language(state: AppState) -> None:
    conversation_id = new_conversation(state, "web", "simulator:amina", with_case=True)
    with state.db.session() as session:
        case = session.scalars(select(Case)).one()
        case.conversation.language = "fr"

    _case_id, bodies = close_case_of(state, conversation_id)

    assert bodies[-1] == closing.rating_question("fr")
    assert bodies[-1].startswith("Dans quelle mesure")


def test_no_rating_is_asked_of_a_person_who_stopped_answering(state: AppState) -> None:
    conversation_id = new_conversation(state, "web", "simulator:amina", with_case=True)

    case_id, bodies = close_case_of(state, conversation_id, "no_response")

    assert bodies == [state.nlg.render("utter_case_closed", language="en", channel="web").text]
    with state.db.session() as session:
        assert session.get(Case, case_id).rating_requested_at is None  # type: ignore[union-attr]


def test_nothing_is_sent_after_the_persons_safe_word(state: AppState) -> None:
    conversation_id = new_conversation(state, "web", "simulator:amina", with_case=True)
    with state.db.session() as session:
        assert cases.record_safe_word(session, conversation_id) is not None

    case_id, bodies = close_case_of(state, conversation_id)

    assert bodies == []
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.rating_requested_at, case.conversation.mode) == (
            cases.CLOSED,
            None,
            "bot",
        )
