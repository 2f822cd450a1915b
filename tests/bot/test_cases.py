from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import cases, live
from bot.db import Database
from bot.errors import CaseConflict, CaseNotFound, PermissionDenied
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
