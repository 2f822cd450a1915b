from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import cases, live
from bot.db import Database
from bot.errors import AlertNotFound, CaseConflict, CaseNotFound, PermissionDenied
from bot.models import AuditEntry, Case, Conversation, Message, Organisation, User, utcnow
from tests.helpers import factories


def test_first_case_without_any_organisation_creates_the_helpline(db: Database) -> None:
    with db.session() as session:
        case = factories.case(session)

        assert case.organisation.name == "Helpline"
        assert (case.status, case.priority, case.reason, case.language, case.channel) == (
            cases.QUEUED,
            cases.PRIORITIES["request"],
            "request_human",
            "en",
            "web",
        )
        assert case.consent == "requested_by_person"
        assert case.conversation.mode == "human"


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("ar", "LB", "Arabic in Lebanon"),
        ("ar", "JO", "Arabic anywhere"),
        ("ar", None, "Arabic anywhere"),
        ("fr", "LB", "Anything in Lebanon"),
        ("fr", None, "Generalist"),
        ("am", "QA", "Generalist"),
    ],
    ids=[
        "language-and-country",
        "language-other-country",
        "language-no-country",
        "country-only",
        "fallback-no-country",
        "fallback-other",
    ],
)
def test_routing_prefers_the_most_specific_organisation(
    db: Database, language: str, country: str | None, expected: str
) -> None:
    with db.session() as session:
        factories.organisation(session, "Generalist")
        factories.organisation(session, "Arabic anywhere", languages=["ar"])
        factories.organisation(session, "Arabic in Lebanon", languages=["ar"], countries=["LB"])
        factories.organisation(session, "Anything in Lebanon", countries=["LB"])

        case = factories.case(session, language=language, country=country)

        assert case.organisation.name == expected


def test_routing_falls_back_to_the_first_organisation_when_none_fits(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session, "Tagalog", languages=["tl"])
        factories.organisation(session, "Nepali", languages=["ne"])

        case = factories.case(session, language="am")

        assert case.organisation.name == "Tagalog"


def test_list_cases_orders_by_priority_then_age(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        opened = {}
        for name, priority in [
            ("request-old", "request"),
            ("medium", "medium"),
            ("emergency", "emergency"),
            ("request-new", "request"),
            ("high", "high"),
        ]:
            opened[name] = factories.case(session, priority=priority)
        # Same priority: the older one first, even if its id were larger.
        opened["request-new"].opened_at = opened["request-old"].opened_at + timedelta(minutes=1)
        session.flush()

        listed = [c.id for c in cases.list_cases(session, worker)]

    assert listed == [
        opened[n].id for n in ["emergency", "high", "medium", "request-old", "request-new"]
    ]


def test_list_cases_filters_by_status(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        waiting = factories.case(session)
        taken = factories.case(session)
        cases.claim(session, worker, taken.id)

        assert [c.id for c in cases.list_cases(session, worker, cases.QUEUED)] == [waiting.id]
        assert [c.id for c in cases.list_cases(session, worker, cases.CLAIMED)] == [taken.id]
        with pytest.raises(ValueError):
            cases.list_cases(session, worker, "pending")


def test_reopening_while_open_only_escalates(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session)
        conversation = factories.conversation(session)
        first = cases.open_case(
            session, conversation, reason="request_human", priority="request", channel="web"
        )
        urgent = cases.open_case(
            session, conversation, reason="emergency", priority="emergency", channel="web"
        )
        calmer = cases.open_case(
            session, conversation, reason="red_flag", priority="medium", channel="web"
        )
        session.flush()

        assert (first.created, urgent.created, calmer.created) == (True, False, False)
        assert urgent.case.id == first.case.id == calmer.case.id
        assert first.case.priority == cases.PRIORITIES["emergency"]
        assert first.case.reason == "request_human"
        assert [(e.kind, e.data.get("priority")) for e in first.case.events] == [
            ("opened", "request"),
            ("escalated", "emergency"),
        ]
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_unknown_priority_is_refused(db: Database) -> None:
    with db.session() as session:
        conversation = factories.conversation(session)
        with pytest.raises(ValueError):
            cases.open_case(session, conversation, reason="x", priority="urgent", channel="web")


def _closed_days_ago(session: Session, case: Case, days: float) -> None:
    case.closed_at = utcnow() - timedelta(days=days)
    session.flush()


def test_a_new_request_within_seven_days_reopens_the_case_for_its_caseworker(
    db: Database,
) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        first = factories.case(session)
        cases.claim(session, worker, first.id)
        cases.add_caseworker_message(session, worker, first.id, "hello")
        cases.close(session, worker, first.id, "information_given")
        _closed_days_ago(session, first, 6.9)

        again = cases.open_case(
            session, first.conversation, reason="red_flag", priority="high", channel="web"
        )

        assert (again.case.id, again.created, again.reopened) == (first.id, False, True)
        case = again.case
        assert (case.status, case.assigned_user_id, case.outcome, case.closed_at) == (
            cases.CLAIMED,
            worker.id,
            None,
            None,
        )
        assert (case.priority, case.first_response_at) == (cases.PRIORITIES["high"], None)
        assert case.deadline_at is not None
        assert case.deadline_at - utcnow() <= timedelta(hours=1)
        assert case.conversation.mode == "human"
        assert (case.events[-1].kind, case.events[-1].data) == (
            "reopened",
            {
                "reason": "red_flag",
                "priority": "high",
                "previous_outcome": "information_given",
                "assigned_user_id": worker.id,
            },
        )
        assert session.scalar(select(func.count()).select_from(Case)) == 1


@pytest.mark.parametrize(
    "gone",
    ["deactivated", "moved-organisation", "now-editor"],
    ids=["deactivated", "moved-organisation", "now-editor"],
)
def test_a_reopened_case_is_queued_when_its_caseworker_is_gone(db: Database, gone: str) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        elsewhere = factories.organisation(session, "Elsewhere", languages=["ne"])
        worker = factories.user(session, org)
        first = factories.case(session)
        cases.claim(session, worker, first.id)
        cases.close(session, worker, first.id, "no_response")
        if gone == "deactivated":
            worker.is_active = False
        elif gone == "moved-organisation":
            worker.organisation_id = elsewhere.id
        else:
            worker.role = cases.EDITOR
        session.flush()

        again = factories.case(session, first.conversation)

        assert (again.id, again.status, again.assigned_user_id, again.organisation_id) == (
            first.id,
            cases.QUEUED,
            None,
            org.id,
        )


@pytest.mark.parametrize(
    ("days", "outcome"),
    [(7.1, "information_given"), (1, "erased")],
    ids=["after-seven-days", "erased"],
)
def test_a_new_case_is_opened_after_seven_days_or_after_erasure(
    db: Database, days: float, outcome: str
) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        first = factories.case(session)
        cases.claim(session, worker, first.id)
        cases.close(session, worker, first.id, outcome)
        _closed_days_ago(session, first, days)

        second = factories.case(session, first.conversation)

        assert second.id != first.id
        assert (second.status, second.assigned_user_id) == (cases.QUEUED, None)
        assert (first.status, first.outcome) == (cases.CLOSED, outcome)
        assert second.conversation.mode == "human"


def test_claim_assigns_the_case(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        case = factories.case(session)

        claimed = cases.claim(session, worker, case.id)

        assert (claimed.status, claimed.assigned_user_id) == (cases.CLAIMED, worker.id)
        assert claimed.claimed_at is not None


def test_claiming_a_claimed_case_conflicts(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        first, second = factories.user(session, org), factories.user(session, org)
        case = factories.case(session)
        cases.claim(session, first, case.id)

        with pytest.raises(CaseConflict):
            cases.claim(session, second, case.id)
        with pytest.raises(CaseConflict):
            cases.claim(session, first, case.id)


def test_claim_is_atomic_across_sessions(db: Database) -> None:
    contenders = 20
    with db.session() as session:
        org = factories.organisation(session)
        user_ids = [factories.user(session, org).id for _ in range(contenders)]
        case_id = factories.case(session).id

    barrier = threading.Barrier(contenders)
    outcomes: dict[int, str] = {}

    def contend(user_id: int) -> None:
        barrier.wait()
        try:
            with db.session() as session:
                user = session.get(User, user_id)
                assert user is not None
                cases.claim(session, user, case_id)
            outcomes[user_id] = "won"
        except CaseConflict:
            outcomes[user_id] = "conflict"
        except Exception as error:  # reported below rather than lost in the thread
            outcomes[user_id] = f"error: {error!r}"

    threads = [threading.Thread(target=contend, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = sorted(outcomes.values())
    assert results == ["conflict"] * (contenders - 1) + ["won"]
    winner = next(uid for uid, result in outcomes.items() if result == "won")
    with db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.assigned_user_id) == (cases.CLAIMED, winner)
        assert [e.kind for e in case.events] == ["opened", "assigned"]


Action = Callable[..., object]
ACTIONS: dict[str, Action] = {
    "get": lambda s, u, cid: cases.get_case(s, u, cid),
    "claim": lambda s, u, cid: cases.claim(s, u, cid),
    "note": lambda s, u, cid: cases.add_note(s, u, cid, "a note"),
    "close": lambda s, u, cid: cases.close(s, u, cid, "information_given"),
    "message": lambda s, u, cid: cases.add_caseworker_message(s, u, cid, "hello"),
}


@pytest.mark.parametrize("action", ACTIONS, ids=list(ACTIONS))
def test_another_organisations_case_does_not_exist(db: Database, action: str) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        # An admin is an admin of their own organisation only.
        outsiders = [
            factories.user(session, mine, role=role) for role in (cases.CASEWORKER, cases.ADMIN)
        ]
        insider = factories.user(session, theirs)
        case = factories.case(session, language="ar")
        assert case.organisation_id == theirs.id
        cases.claim(session, insider, case.id)
        session.flush()

        for outsider in outsiders:
            with pytest.raises(CaseNotFound):
                ACTIONS[action](session, outsider, case.id)

        assert [e.kind for e in case.events] == ["opened", "assigned"]
        assert (case.status, case.assigned_user_id) == (cases.CLAIMED, insider.id)


def test_unknown_case_is_not_found(db: Database) -> None:
    with db.session() as session:
        worker = factories.user(session, factories.organisation(session))
        with pytest.raises(CaseNotFound):
            cases.get_case(session, worker, 999_999)


def test_editors_cannot_work_on_cases(db: Database) -> None:
    with db.session() as session:
        editor = factories.user(session, factories.organisation(session), role=cases.EDITOR)
        case = factories.case(session)
        with pytest.raises(PermissionDenied):
            cases.list_cases(session, editor)
        with pytest.raises(PermissionDenied):
            cases.claim(session, editor, case.id)


def test_close_returns_the_conversation_to_the_bot(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        case = factories.case(session)
        cases.claim(session, worker, case.id)

        closed = cases.close(session, worker, case.id, "referred_to_service")

        assert (closed.status, closed.outcome) == (cases.CLOSED, "referred_to_service")
        assert closed.closed_at is not None
        assert closed.conversation.mode == "bot"
        assert cases.open_case_of(session, closed.conversation_id) is None
        assert (closed.events[-1].kind, closed.events[-1].data) == (
            "closed",
            {"outcome": "referred_to_service"},
        )


def test_bad_outcome_is_rejected(db: Database) -> None:
    with db.session() as session:
        worker = factories.user(session, factories.organisation(session))
        case = factories.case(session)
        cases.claim(session, worker, case.id)

        with pytest.raises(ValueError, match="unknown outcome"):
            cases.close(session, worker, case.id, "solved")

        assert (case.status, case.conversation.mode) == (cases.CLAIMED, "human")


def test_only_the_assignee_or_a_supervisor_works_on_a_claimed_case(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        owner = factories.user(session, org)
        colleague = factories.user(session, org)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        case = factories.case(session)
        cases.claim(session, owner, case.id)

        with pytest.raises(CaseConflict):
            cases.add_caseworker_message(session, colleague, case.id, "hello")
        with pytest.raises(CaseConflict):
            cases.close(session, colleague, case.id, "information_given")
        cases.add_caseworker_message(session, supervisor, case.id, "hello from the supervisor")
        cases.close(session, supervisor, case.id, "information_given")

        with pytest.raises(CaseConflict):
            cases.close(session, owner, case.id, "information_given")
        with pytest.raises(CaseConflict):
            cases.add_caseworker_message(session, owner, case.id, "too late")


def test_caseworker_message_is_queued_for_the_outbox(db: Database) -> None:
    with db.session() as session:
        worker = factories.user(session, factories.organisation(session))
        case = factories.case(
            session, factories.conversation(session, channel="sms", address="+9617000")
        )
        cases.claim(session, worker, case.id)

        message = cases.add_caseworker_message(session, worker, case.id, "I can help you.")

        assert (
            message.direction,
            message.author,
            message.channel,
            message.status,
            message.body,
            message.case_id,
            message.user_id,
        ) == ("out", "caseworker", "sms", "queued", "I can help you.", case.id, worker.id)


def test_events_are_appended_in_order(db: Database) -> None:
    with db.session() as session:
        worker = factories.user(session, factories.organisation(session))
        conversation = factories.conversation(session)
        case = factories.case(session, conversation)
        cases.claim(session, worker, case.id)
        inbound = factories.inbound(session, conversation, "are you there?")
        cases.add_person_message(session, case, inbound)
        reply = cases.add_caseworker_message(session, worker, case.id, "yes")
        cases.add_note(session, worker, case.id, "seems safe")
        cases.close(session, worker, case.id, "information_given")
        session.flush()
        case_id = case.id

    with db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = [(e.kind, e.user_id, e.text, e.data) for e in case.events]
        assert events == [
            (
                "opened",
                None,
                None,
                {
                    "reason": "request_human",
                    "priority": "request",
                    "organisation": case.organisation.name,
                },
            ),
            ("assigned", worker.id, None, {}),
            ("message", None, None, {"direction": "in", "message_id": inbound.id}),
            ("message", worker.id, None, {"direction": "out", "message_id": reply.id}),
            ("note", worker.id, "seems safe", {}),
            ("closed", worker.id, None, {"outcome": "information_given"}),
        ]
        ids = [e.id for e in case.events]
        assert ids == sorted(ids)
        assert session.get(Message, inbound.id).case_id == case_id  # type: ignore[union-attr]
        assert [m.id for m in cases.transcript(session, case)] == [inbound.id, reply.id]


def test_organisation_rows_are_untouched_by_routing(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session, "Only")
        factories.case(session, language="ne", country="KW")
        assert [o.name for o in session.scalars(select(Organisation))] == ["Only"]
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


PASSPORT = {
    "code": "retention_of_identity_documents",
    "evidence": "madam took my passport",
    "confidence": 0.9,
}
DANGER = {"code": "imminent_danger", "evidence": "he will kill me", "confidence": 0.9}


def test_red_flags_set_risk_priority_and_keep_the_evidence_encrypted(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session)
        conversation = factories.conversation(session)
        opened = cases.open_case(
            session,
            conversation,
            reason="red_flag",
            priority="request",
            channel="web",
            risk="high",
            indicators=[PASSPORT],
            consent="given",
            screening={"screen_documents": False},
        )
        case_id = opened.case.id

    with db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.risk, case.priority, case.consent) == (
            "high",
            cases.PRIORITIES["high"],
            "given",
        )
        assert cases.indicators_of(case) == [PASSPORT]
        flagged = [e for e in case.events if e.kind == "flagged"]
        assert [e.data for e in flagged] == [
            {"risk": "high", "codes": ["retention_of_identity_documents"]}
        ]
        stored = session.connection().exec_driver_sql(
            "SELECT text FROM case_events WHERE kind = 'flagged'"
        )
        assert "madam" not in stored.scalar_one()


def test_risk_only_goes_up_while_open(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session)
        conversation = factories.conversation(session)
        case = cases.open_case(
            session,
            conversation,
            reason="red_flag",
            priority="medium",
            channel="web",
            risk="medium",
            indicators=[PASSPORT],
        ).case
        cases.flag(session, case, "low", [PASSPORT])
        assert (case.risk, case.priority) == ("medium", cases.PRIORITIES["medium"])
        cases.flag(session, case, "emergency", [DANGER])
        assert (case.risk, case.priority) == ("emergency", cases.PRIORITIES["emergency"])
        cases.flag(session, case, "high", [PASSPORT])
        assert (case.risk, case.priority) == ("emergency", cases.PRIORITIES["emergency"])
        assert cases.indicators_of(case) == [PASSPORT, PASSPORT, DANGER, PASSPORT]


def test_unknown_risk_counts_as_none(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session)
        case = cases.open_case(
            session,
            factories.conversation(session),
            reason="request_human",
            priority="request",
            channel="web",
            risk="catastrophic",
        ).case
        assert (case.risk, [e.kind for e in case.events]) == ("none", ["opened"])


def _audit(session: Session, case_id: int) -> list[tuple[int | None, str]]:
    return [
        (e.user_id, e.action)
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id)
        )
    ]


def test_every_view_and_action_is_audited(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        case = factories.case(session)
        case_id = case.id

        cases.get_case(session, worker, case_id)
        cases.claim(session, worker, case_id)
        cases.add_caseworker_message(session, worker, case_id, "hello")
        cases.add_note(session, worker, case_id, "note")
        cases.release(session, worker, case_id)
        cases.transfer(session, supervisor, case_id, to_user_id=worker.id)
        cases.record_consent(session, worker, case_id)
        cases.close(session, worker, case_id, "information_given")
        cases.open_case(session, case.conversation, reason="x", priority="request", channel="web")
        session.flush()

        assert _audit(session, case_id) == [
            (worker.id, "viewed"),
            (worker.id, "claimed"),
            (worker.id, "replied"),
            (worker.id, "noted"),
            (worker.id, "released"),
            (supervisor.id, "transferred"),
            (worker.id, "consent_recorded"),
            (worker.id, "closed"),
            (None, "reopened"),
        ]
        entries = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id))
        assert {e.organisation_id for e in entries} == {org.id}


def test_live_events_are_recorded_for_every_change(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        conversation = factories.conversation(session)
        case = factories.case(session, conversation)
        cases.claim(session, worker, case.id)
        cases.add_person_message(session, case, factories.inbound(session, conversation))
        cases.add_caseworker_message(session, worker, case.id, "hi")
        cases.flag(session, case, "high", [PASSPORT])
        cases.release(session, worker, case.id)
        cases.claim(session, worker, case.id)
        cases.close(session, worker, case.id, "information_given")
        cases.open_case(session, conversation, reason="x", priority="request", channel="web")

        published = list(live.pending(session))

    assert {org_id for org_id, _e in published} == {org.id}
    assert [e["kind"] for _o, e in published] == [
        "opened",
        "claimed",
        "message",
        "message",
        "flagged",
        "released",
        "claimed",
        "closed",
        "reopened",
    ]
    assert all(set(e) <= live.ALLOWED_KEYS for _o, e in published)
    assert [e["direction"] for _o, e in published if e["kind"] == "message"] == ["in", "out"]


def test_next_case_claims_the_most_urgent_waiting_case_of_the_organisation(db: Database) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        factories.organisation(session, "Theirs", languages=["ar"])
        worker = factories.user(session, mine)
        colleague = factories.user(session, mine)
        old_request = factories.case(session, priority="request")
        high = factories.case(session, priority="high")
        factories.case(session, language="ar", priority="emergency")
        taken = factories.case(session, priority="emergency")
        cases.claim(session, colleague, taken.id)
        new_high = factories.case(session, priority="high")
        new_high.opened_at = high.opened_at + timedelta(seconds=1)
        session.flush()

        handed = [cases.next_case(session, worker) for _ in range(4)]

        assert [c.id if c else None for c in handed] == [
            high.id,
            new_high.id,
            old_request.id,
            None,
        ]
        assert {(c.status, c.assigned_user_id) for c in handed if c} == {(cases.CLAIMED, worker.id)}
        assert handed[0] is not None
        assert [e.kind for e in handed[0].events] == ["opened", "assigned"]


def test_next_case_is_for_case_roles_only(db: Database) -> None:
    with db.session() as session:
        editor = factories.user(session, factories.organisation(session), role=cases.EDITOR)
        factories.case(session)
        with pytest.raises(PermissionDenied):
            cases.next_case(session, editor)


def test_simultaneous_next_case_hands_each_case_to_one_caseworker(db: Database) -> None:
    contenders, waiting = 12, 5
    with db.session() as session:
        org = factories.organisation(session)
        user_ids = [factories.user(session, org).id for _ in range(contenders)]
        case_ids = {factories.case(session).id for _ in range(waiting)}

    barrier = threading.Barrier(contenders)
    handed: dict[int, int | str | None] = {}

    def contend(user_id: int) -> None:
        barrier.wait()
        try:
            with db.session() as session:
                user = session.get(User, user_id)
                assert user is not None
                case = cases.next_case(session, user)
                handed[user_id] = case.id if case else None
        except Exception as error:
            handed[user_id] = f"error: {error!r}"

    threads = [threading.Thread(target=contend, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    got = [v for v in handed.values() if v is not None]
    assert sorted(got, key=str) == sorted(case_ids)
    assert list(handed.values()).count(None) == contenders - waiting
    with db.session() as session:
        assigned = {
            c.id: c.assigned_user_id for c in session.scalars(select(Case)) if c.id in case_ids
        }
        assert assigned == {case_id: uid for uid, case_id in handed.items() if case_id}


def test_release_puts_the_case_back_in_the_queue(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        owner = factories.user(session, org)
        colleague = factories.user(session, org)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        case = factories.case(session)
        cases.claim(session, owner, case.id)

        with pytest.raises(CaseConflict):
            cases.release(session, colleague, case.id)
        released = cases.release(session, owner, case.id)
        assert (released.status, released.assigned_user_id, released.claimed_at) == (
            cases.QUEUED,
            None,
            None,
        )
        with pytest.raises(CaseConflict):
            cases.release(session, owner, case.id)
        cases.claim(session, colleague, case.id)
        cases.release(session, supervisor, case.id)

        assert [(e.kind, e.user_id, e.data) for e in case.events if e.kind == "released"] == [
            ("released", owner.id, {"from_user_id": owner.id}),
            ("released", supervisor.id, {"from_user_id": colleague.id}),
        ]
        assert cases.next_case(session, colleague) is case


def test_transfer_to_a_colleague(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        owner = factories.user(session, org)
        colleague = factories.user(session, org)
        case = factories.case(session)
        cases.claim(session, owner, case.id)

        moved = cases.transfer(session, owner, case.id, to_user_id=colleague.id)

        assert (moved.status, moved.assigned_user_id) == (cases.CLAIMED, colleague.id)
        assert (moved.events[-1].kind, moved.events[-1].user_id, moved.events[-1].data) == (
            "transferred",
            owner.id,
            {"from_user_id": owner.id, "to_user_id": colleague.id},
        )
        with pytest.raises(PermissionDenied):
            cases.transfer(session, owner, case.id, to_user_id=owner.id)


def test_a_supervisor_reassigns_any_case_of_the_organisation(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        owner = factories.user(session, org)
        colleague = factories.user(session, org)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        claimed = factories.case(session)
        cases.claim(session, owner, claimed.id)
        waiting = factories.case(session)

        cases.transfer(session, supervisor, claimed.id, to_user_id=colleague.id)
        cases.transfer(session, supervisor, waiting.id, to_user_id=owner.id)

        assert (claimed.assigned_user_id, waiting.assigned_user_id) == (colleague.id, owner.id)
        assert (claimed.status, waiting.status) == (cases.CLAIMED, cases.CLAIMED)
        with pytest.raises(CaseConflict):
            cases.transfer(session, supervisor, waiting.id, to_user_id=owner.id)


def test_a_caseworker_cannot_hand_on_a_waiting_case(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        colleague = factories.user(session, org)
        case = factories.case(session)
        with pytest.raises(PermissionDenied):
            cases.transfer(session, worker, case.id, to_user_id=colleague.id)
        assert (case.status, case.assigned_user_id) == (cases.QUEUED, None)


@pytest.mark.parametrize(
    "target",
    ["other-organisation", "inactive", "editor", "unknown"],
    ids=["other-organisation", "inactive", "editor", "unknown"],
)
def test_transfer_only_to_a_colleague_who_can_take_cases(db: Database, target: str) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        other = factories.organisation(session, "Other", languages=["ne"])
        owner = factories.user(session, org)
        if target == "other-organisation":
            target_id = factories.user(session, other).id
        elif target == "inactive":
            gone = factories.user(session, org)
            gone.is_active = False
            target_id = gone.id
        elif target == "editor":
            target_id = factories.user(session, org, role=cases.EDITOR).id
        else:
            target_id = 999_999
        case = factories.case(session)
        cases.claim(session, owner, case.id)

        with pytest.raises(ValueError, match="no colleague"):
            cases.transfer(session, owner, case.id, to_user_id=target_id)
        assert case.assigned_user_id == owner.id


@pytest.mark.parametrize(
    "targets",
    [{}, {"to_user_id": 1, "to_organisation_id": 1}],
    ids=["neither", "both"],
)
def test_transfer_needs_exactly_one_target(db: Database, targets: dict[str, int]) -> None:
    with db.session() as session:
        owner = factories.user(session, factories.organisation(session))
        case = factories.case(session)
        cases.claim(session, owner, case.id)
        with pytest.raises(ValueError, match="either"):
            cases.transfer(session, owner, case.id, **targets)


def test_a_closed_case_cannot_be_transferred(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        colleague = factories.user(session, org)
        case = factories.case(session)
        cases.close(session, supervisor, case.id, "no_response")
        with pytest.raises(CaseConflict):
            cases.transfer(session, supervisor, case.id, to_user_id=colleague.id)


def test_transfer_to_another_organisation_needs_the_persons_consent(db: Database) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine")
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        owner = factories.user(session, mine)
        insider = factories.user(session, theirs)
        case = factories.case(session, priority="high")
        cases.claim(session, owner, case.id)
        cases.add_caseworker_message(session, owner, case.id, "hello")
        assert case.consent == "requested_by_person"

        with pytest.raises(CaseConflict, match="consented"):
            cases.transfer(session, owner, case.id, to_organisation_id=theirs.id)
        with pytest.raises(ValueError, match="no other organisation"):
            cases.transfer(session, owner, case.id, to_organisation_id=mine.id)
        cases.record_consent(session, owner, case.id)
        before = utcnow()
        moved = cases.transfer(
            session, owner, case.id, to_organisation_id=theirs.id, deadlines={"high": 30}
        )

        assert (moved.organisation_id, moved.status, moved.assigned_user_id) == (
            theirs.id,
            cases.QUEUED,
            None,
        )
        assert moved.first_response_at is None
        assert moved.deadline_at is not None
        assert (
            before + timedelta(minutes=30) <= moved.deadline_at <= utcnow() + timedelta(minutes=30)
        )
        with pytest.raises(CaseNotFound):
            cases.get_case(session, owner, case.id)
        assert cases.next_case(session, insider) is moved
        published = [(org_id, e["kind"]) for org_id, e in live.pending(session)]
        assert published[-3:] == [
            (mine.id, "transferred"),
            (theirs.id, "transferred"),
            (theirs.id, "claimed"),
        ]


PRIORITY_MINUTES = {"emergency": 15, "high": 60, "medium": 240, "request": 1440}


@pytest.mark.parametrize("priority", list(PRIORITY_MINUTES), ids=list(PRIORITY_MINUTES))
def test_the_first_response_deadline_follows_the_priority(db: Database, priority: str) -> None:
    with db.session() as session:
        factories.organisation(session)
        default = factories.case(session, priority=priority)
        custom = cases.open_case(
            session,
            factories.conversation(session),
            reason="request_human",
            priority=priority,
            channel="web",
            deadlines={priority: 7},
        ).case

        assert default.deadline_at == default.opened_at + timedelta(
            minutes=PRIORITY_MINUTES[priority]
        )
        assert custom.deadline_at == custom.opened_at + timedelta(minutes=7)


def test_a_raised_priority_brings_the_deadline_forward(db: Database) -> None:
    with db.session() as session:
        factories.organisation(session)
        conversation = factories.conversation(session)
        case = factories.case(session, conversation, priority="request")
        case.opened_at = case.opened_at - timedelta(hours=2)
        case.deadline_at = case.opened_at + timedelta(hours=24)
        before = utcnow()

        cases.flag(session, case, "high", [PASSPORT])
        after_flag = case.deadline_at
        cases.open_case(
            session, conversation, reason="emergency", priority="emergency", channel="web"
        )

        assert after_flag is not None and case.deadline_at is not None
        assert before + timedelta(hours=1) <= after_flag <= utcnow() + timedelta(hours=1)
        assert case.deadline_at <= utcnow() + timedelta(minutes=15)


def _overdue_case(session: Session, priority: str = "emergency", **kwargs: str) -> Case:
    case = factories.case(session, priority=priority, **kwargs)
    case.opened_at = utcnow() - timedelta(hours=30)
    case.deadline_at = case.opened_at + timedelta(minutes=PRIORITY_MINUTES[priority])
    session.flush()
    return case


def test_the_sweep_alerts_supervisors_once_for_each_missed_deadline(db: Database) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        worker = factories.user(session, mine)
        supervisor = factories.user(session, mine, role=cases.SUPERVISOR)
        their_supervisor = factories.user(session, theirs, role=cases.SUPERVISOR)
        overdue = _overdue_case(session)
        answered = _overdue_case(session)
        cases.claim(session, worker, answered.id)
        cases.add_caseworker_message(session, worker, answered.id, "I am here")
        closed = _overdue_case(session)
        cases.close(session, supervisor, closed.id, "no_response")
        in_time = factories.case(session)
        claimed_silent = _overdue_case(session, priority="high")
        cases.claim(session, worker, claimed_silent.id)
        theirs_overdue = _overdue_case(session, language="ar")

        assert [c.id for c in cases.overdue_cases(session, worker)] == [
            overdue.id,
            claimed_silent.id,
        ]
        first = cases.sweep_deadlines(session)
        again = cases.sweep_deadlines(session)

        assert sorted((a.case_id, a.organisation_id, a.kind) for a in first) == sorted(
            [
                (overdue.id, mine.id, "deadline_missed"),
                (claimed_silent.id, mine.id, "deadline_missed"),
                (theirs_overdue.id, theirs.id, "deadline_missed"),
            ]
        )
        assert again == []
        assert [e.kind for e in overdue.events].count("deadline_missed") == 1
        assert overdue.deadline_missed_at is not None
        assert (
            answered.deadline_missed_at,
            closed.deadline_missed_at,
            in_time.deadline_missed_at,
        ) == (
            None,
            None,
            None,
        )
        assert [a.case_id for a in cases.alerts(session, supervisor)] == [
            claimed_silent.id,
            overdue.id,
        ]
        assert [a.case_id for a in cases.alerts(session, their_supervisor)] == [theirs_overdue.id]
        kinds = [(org_id, e["kind"], e["case_id"]) for org_id, e in live.pending(session)]
        assert (mine.id, "deadline_missed", overdue.id) in kinds


def test_alerts_are_for_supervisors_and_acknowledged_once(db: Database) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        worker = factories.user(session, mine)
        supervisor = factories.user(session, mine, role=cases.SUPERVISOR)
        admin = factories.user(session, mine, role=cases.ADMIN)
        outsider = factories.user(session, theirs, role=cases.SUPERVISOR)
        _overdue_case(session)
        (alert,) = cases.sweep_deadlines(session)

        with pytest.raises(PermissionDenied):
            cases.alerts(session, worker)
        with pytest.raises(AlertNotFound):
            cases.acknowledge_alert(session, outsider, alert.id)
        cases.acknowledge_alert(session, supervisor, alert.id)
        first_ack = alert.acknowledged_at
        cases.acknowledge_alert(session, admin, alert.id)

        assert (alert.acknowledged_by, alert.acknowledged_at) == (supervisor.id, first_ack)
        assert cases.alerts(session, admin) == []
        assert cases.alerts(session, admin, include_acknowledged=True) == [alert]


def test_repeated_views_within_ten_minutes_are_one_audit_line(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        colleague = factories.user(session, org, "colleague")
        case_id = factories.case(session).id

        for _ in range(3):  # a page refreshing its transcript
            cases.get_case(session, worker, case_id)
        cases.get_case(session, colleague, case_id)
        session.flush()
        assert _audit(session, case_id) == [(worker.id, "viewed"), (colleague.id, "viewed")]

        for entry in session.scalars(select(AuditEntry)):
            entry.created_at = utcnow() - cases.VIEW_AUDITED_EVERY - timedelta(seconds=1)
        cases.get_case(session, worker, case_id)
        session.flush()
        assert _audit(session, case_id)[-1] == (worker.id, "viewed")
        assert len(_audit(session, case_id)) == 3


def test_the_audit_trail_is_for_supervisors(db: Database) -> None:
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
        supervisor = factories.user(session, org, role=cases.SUPERVISOR)
        case = factories.case(session)
        cases.claim(session, worker, case.id)

        with pytest.raises(PermissionDenied):
            cases.audit_trail(session, worker, case.id)
        trail = cases.audit_trail(session, supervisor, case.id)

        assert [(e.user_id, e.action) for e in trail] == [(worker.id, "claimed")]
        assert _audit(session, case.id)[-1] == (supervisor.id, "audit_viewed")


def _rated_case(session: Session, *, asked_hours_ago: float = 0) -> tuple[Case, Conversation]:
    conversation = factories.conversation(session)
    case = factories.case(session, conversation)
    worker = factories.user(session, case.organisation)
    cases.claim(session, worker, case.id)
    cases.close(session, worker, case.id, "information_given")
    assert cases.ask_rating(session, case) is True
    assert case.rating_requested_at is not None
    case.rating_requested_at -= timedelta(hours=asked_hours_ago)
    session.flush()
    return case, conversation


def test_a_reply_of_one_to_five_is_the_rating(db: Database) -> None:
    with db.session() as session:
        case, conversation = _rated_case(session)
        reply = factories.inbound(session, conversation, " 4 ")

        rated = cases.record_rating(session, reply)
        later = cases.record_rating(session, factories.inbound(session, conversation, "5"))

        assert rated is case
        assert (case.rating, reply.case_id) == (4, case.id)
        assert later is None
        assert (case.events[-1].kind, case.events[-1].data) == (
            "rated",
            {"rating": 4, "message_id": reply.id},
        )
        assert cases.ask_rating(session, case) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), (" 5\n", 5), ("٤", 4), ("४", 4), ("３", 3), ("፬", 4)],
    ids=["one", "five-spaced", "arabic-indic", "devanagari", "fullwidth", "ethiopic"],
)
def test_ratings_in_any_scripts_digits(text: str, expected: int) -> None:
    assert cases.parse_rating(text) == expected


@pytest.mark.parametrize(
    "text",
    ["0", "6", "four", "44", "", None, "²", "፮"],
    ids=["zero", "six", "word", "two-digits", "empty", "none", "superscript", "ethiopic-six"],
)
def test_anything_else_is_not_a_rating(db: Database, text: str | None) -> None:
    with db.session() as session:
        case, conversation = _rated_case(session)
        assert cases.record_rating(session, factories.inbound(session, conversation, text)) is None
        assert case.rating is None


def test_a_late_answer_or_one_after_other_messages_is_not_a_rating(db: Database) -> None:
    with db.session() as session:
        late, late_conversation = _rated_case(session, asked_hours_ago=25)
        assert (
            cases.record_rating(session, factories.inbound(session, late_conversation, "3")) is None
        )

        moved_on, conversation = _rated_case(session)
        factories.inbound(session, conversation, "what about my passport?")
        assert cases.record_rating(session, factories.inbound(session, conversation, "3")) is None
        assert (late.rating, moved_on.rating) == (None, None)


def test_no_rating_is_asked_of_an_open_case_or_twice(db: Database) -> None:
    with db.session() as session:
        case, conversation = _rated_case(session)
        assert cases.ask_rating(session, case) is False
        reopened = factories.case(session, conversation)
        assert reopened is case
        assert cases.ask_rating(session, case) is False
        assert cases.record_rating(session, factories.inbound(session, conversation, "2")) is None


def test_figures_count_the_queue_and_the_period(db: Database) -> None:
    with db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        worker = factories.user(session, mine)
        supervisor = factories.user(session, mine, role=cases.SUPERVISOR)
        factories.case(session, priority="emergency")
        factories.case(session, priority="request")
        factories.case(session, language="ar", priority="high")
        _overdue_case(session, priority="high")
        answered = factories.case(session)
        answered.opened_at = utcnow() - timedelta(minutes=30)
        cases.claim(session, worker, answered.id)
        cases.add_caseworker_message(session, worker, answered.id, "hello")
        for rating, outcome in [(4, "information_given"), (2, "no_response")]:
            rated, conversation = _rated_case(session)
            rated.outcome = outcome
            reply = factories.inbound(session, conversation, str(rating))
            cases.record_rating(session, reply)
        old = factories.case(session)
        cases.close(session, supervisor, old.id, "referred_to_service")
        old.closed_at = old.opened_at = utcnow() - timedelta(days=40)
        cases.sweep_deadlines(session)
        session.flush()

        found = cases.figures(session, supervisor)
        with pytest.raises(PermissionDenied):
            cases.figures(session, worker)
        assert theirs.id != mine.id

    assert found.waiting == {"emergency": 1, "high": 1, "medium": 0, "request": 1}
    assert (found.in_progress, found.overdue, found.deadlines_missed) == (1, 1, 1)
    assert (found.opened, found.closed) == (6, 2)
    assert found.outcomes == {
        "information_given": 1,
        "referred_to_service": 0,
        "referred_to_authorities": 0,
        "no_response": 1,
        "erased": 0,
    }
    assert found.median_first_response_minutes is not None
    assert 29.5 <= found.median_first_response_minutes <= 31
    assert (found.ratings, found.average_rating) == ({1: 0, 2: 1, 3: 0, 4: 1, 5: 0}, 3.0)
