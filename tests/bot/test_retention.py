from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cases, cli, retention
from bot.app_state import AppState
from bot.config import Settings
from bot.models import Case, CaseEvent, Contact, Conversation, DailyCount, Message, utcnow
from tests.helpers import factories
from tests.helpers.app import make_state
from tests.helpers.rasa_store import stored_text, write_tracker

OLD = timedelta(days=100)


@pytest.fixture
async def state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppState]:
    state = make_state(settings, monkeypatch)
    yield state
    await state.close()


def age(session: object, rows: list[object], by: timedelta) -> None:
    for row in rows:
        row.created_at = utcnow() - by  # type: ignore[attr-defined]


def seed(state: AppState) -> dict[str, int]:
    """Four people: one long gone, one writing today, one with an old open case, one pending."""
    ids: dict[str, int] = {}
    with state.db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)

        gone = factories.conversation(session, channel="sms", address="+9613000001", language="ar")
        old_rows = [
            factories.inbound(session, gone, "they took my passport", status="done"),
            factories.inbound(session, gone, "please help", status="done"),
        ]
        case = factories.case(session, gone)
        cases.flag(session, case, "high", [{"code": "retention_of_identity_documents"}])
        cases.claim(session, caseworker, case.id)
        old_rows.append(cases.add_caseworker_message(session, caseworker, case.id, "We call you"))
        old_rows[-1].status = "sent"
        cases.add_note(session, caseworker, case.id, "Lives in Jounieh")
        cases.close(session, caseworker, case.id, "referred_to_service")
        case.opened_at = utcnow() - OLD
        case.closed_at = utcnow() - timedelta(days=95)
        age(session, old_rows, OLD)
        gone.last_inbound_at = utcnow() - OLD
        gone.created_at = utcnow() - OLD
        ids["gone"] = gone.id

        today = factories.conversation(session, channel="sms", address="+9613000002")
        factories.inbound(session, today, "hello", status="done")
        ids["today"] = today.id

        waiting = factories.conversation(session, channel="telegram", address="tg:3")
        waiting_message = factories.inbound(session, waiting, "still waiting", status="done")
        waiting_case = factories.case(session, waiting)
        waiting_case.opened_at = utcnow() - OLD
        age(session, [waiting_message], OLD)
        waiting.last_inbound_at = utcnow() - OLD
        ids["waiting"] = waiting.id

        pending = factories.conversation(session, channel="web", address="simulator:4")
        age(session, [factories.inbound(session, pending, "not answered yet")], OLD)
        pending.last_inbound_at = utcnow() - OLD
        ids["pending"] = pending.id
        senders = {
            name: session.get(Conversation, conversation_id).contact.pseudonym  # type: ignore[union-attr]
            for name, conversation_id in ids.items()
        }
    for name, sender in senders.items():
        at = utcnow() - (timedelta(0) if name == "today" else OLD)
        write_tracker(state.settings, sender, f"tracker text of {name}", at)
    return ids


def bodies(state: AppState) -> list[str | None]:
    with state.db.session() as session:
        return list(session.scalars(select(Message.body).order_by(Message.id)))


def counts(state: AppState) -> dict[tuple[str, str, str], int]:
    with state.db.session() as session:
        return {
            (row.channel, row.language, row.metric): row.count
            for row in session.scalars(select(DailyCount))
        }


async def test_old_transcripts_go_and_only_anonymous_counts_stay(state: AppState) -> None:
    ids = seed(state)

    report = await retention.run(state.db, state.trackers, state.queue, retention_days=90)

    assert (report.messages, report.cases, report.contacts) == (3, 1, 1)
    assert bodies(state) == ["hello", "still waiting", "not answered yet"]
    with state.db.session() as session:
        assert session.get(Conversation, ids["gone"]) is None
        assert session.scalar(select(func.count()).select_from(Contact)) == 3
        assert [c.conversation_id for c in session.scalars(select(Case))] == [ids["waiting"]]
        notes = session.scalars(select(CaseEvent.text).where(CaseEvent.text.is_not(None))).all()
        assert notes == []
    assert counts(state) == {
        ("sms", "ar", "messages_in"): 2,
        ("sms", "ar", "messages_out"): 1,
        ("sms", "ar", "cases"): 1,
        ("sms", "ar", "outcome:referred_to_service"): 1,
        ("sms", "ar", "risk:high"): 1,
        ("sms", "ar", "indicator:retention_of_identity_documents"): 1,
    }
    kept = stored_text(state.settings)
    assert "tracker text of gone" not in kept
    assert "tracker text of today" in kept


async def test_a_second_run_erases_nothing_and_counts_nothing_twice(state: AppState) -> None:
    seed(state)
    await retention.run(state.db, state.trackers, state.queue, retention_days=90)
    first = counts(state)

    again = await retention.run(state.db, state.trackers, state.queue, retention_days=90)

    assert (again.messages, again.cases, again.contacts, again.tracker_events) == (0, 0, 0, 0)
    assert counts(state) == first


async def test_counts_of_later_runs_add_up(state: AppState) -> None:
    for address in ("+9613000010", "+9613000011"):
        with state.db.session() as session:
            conversation = factories.conversation(session, channel="sms", address=address)
            message = factories.inbound(session, conversation, "hi", status="done")
            message.created_at = utcnow() - OLD
            conversation.last_inbound_at = utcnow() - OLD
        await retention.run(state.db, state.trackers, state.queue, retention_days=90)

    assert counts(state) == {("sms", "en", "messages_in"): 2}


async def test_a_longer_retention_period_keeps_more(state: AppState) -> None:
    seed(state)

    report = await retention.run(state.db, state.trackers, state.queue, retention_days=365)

    assert (report.messages, report.cases, report.contacts) == (0, 0, 0)
    assert len(bodies(state)) == 6


async def test_old_wake_ups_leave_the_queue(state: AppState) -> None:
    if not state.settings.uses_redis:
        pytest.skip("the in-process queue lives only as long as the process")
    await state.queue.put(1)

    report = await retention.run(
        state.db, state.trackers, state.queue, retention_days=1, now=utcnow() + timedelta(days=2)
    )

    assert report.queue_entries == 1


def test_the_command_reports_what_it_erased(
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (environ | {"RETENTION_DAYS": "30"}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["db", "upgrade"]) == 0
    capsys.readouterr()

    assert cli.main(["retention", "run"]) == 0

    assert capsys.readouterr().out == (
        "retention 30 days: erased: 0 messages, 0 cases, 0 contacts, "
        "0 Rasa tracker records, 0 queue entries\n"
    )
