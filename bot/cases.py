"""The one case service: the bot, the API and the dashboard all go through it.

A case is a row plus an append-only event log. Claiming is one conditional UPDATE,
so of many simultaneous claims exactly one changes a row, on SQLite and PostgreSQL
alike. Every read is scoped to the caller's organisation: another organisation's
case does not exist for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot.errors import CaseConflict, CaseNotFound, PermissionDenied
from bot.models import Case, CaseEvent, Conversation, Message, Organisation, User, utcnow

# Case statuses.
QUEUED = "queued"
CLAIMED = "claimed"
CLOSED = "closed"
STATUSES = (QUEUED, CLAIMED, CLOSED)

# Lower is more urgent.
PRIORITIES: dict[str, int] = {"emergency": 0, "high": 1, "medium": 2, "request": 3}
OUTCOMES = (
    "information_given",
    "referred_to_service",
    "referred_to_authorities",
    "no_response",
    "erased",
)

# Roles.
CASEWORKER = "caseworker"
SUPERVISOR = "supervisor"
EDITOR = "editor"
ADMIN = "admin"
ROLES = (CASEWORKER, SUPERVISOR, EDITOR, ADMIN)
CASE_ROLES = frozenset({CASEWORKER, SUPERVISOR, ADMIN})


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool


def _event(
    session: Session,
    case: Case,
    kind: str,
    user: User | None = None,
    text: str | None = None,
    **data: Any,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id, kind=kind, user_id=user.id if user else None, text=text, data=data
    )
    session.add(event)
    return event


def route(session: Session, language: str, country: str | None) -> Organisation:
    """The organisation that takes a case: the most specific match, else the first generalist."""
    organisations = list(session.scalars(select(Organisation).order_by(Organisation.id)))
    if not organisations:
        fallback = Organisation(name="Helpline", languages=[], countries=[])
        session.add(fallback)
        session.flush()
        return fallback

    def fits(org: Organisation) -> int:
        if org.languages and language not in org.languages:
            return -1
        if org.countries and (country is None or country not in org.countries):
            return -1
        return (1 if org.languages else 0) + (2 if org.countries else 0)

    best = max(organisations, key=fits)
    return best if fits(best) >= 0 else organisations[0]


RISKS = ("none", "low", "medium", "high", "emergency")
# The queue priority a risk level calls for, at least.
PRIORITY_OF_RISK = {"emergency": "emergency", "high": "high", "medium": "medium"}


def open_case(
    session: Session,
    conversation: Conversation,
    *,
    reason: str,
    priority: str,
    channel: str,
    risk: str = "none",
    indicators: list[dict[str, Any]] | None = None,
    consent: str | None = None,
    screening: dict[str, Any] | None = None,
) -> Opened:
    """Open a case for the conversation, or raise the urgency of the one already open."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    risk = risk if risk in RISKS else "none"
    priority = _more_urgent(priority, PRIORITY_OF_RISK.get(risk, priority))
    current = session.scalar(
        select(Case).where(Case.conversation_id == conversation.id, Case.status != CLOSED)
    )
    conversation.mode = "human"
    if current is not None:
        if PRIORITIES[priority] < current.priority:
            current.priority = PRIORITIES[priority]
            _event(session, current, "escalated", priority=priority, reason=reason)
        flag(session, current, risk, indicators or [], screening)
        return Opened(current, created=False)
    organisation = route(session, conversation.language, conversation.country)
    case = Case(
        organisation_id=organisation.id,
        conversation_id=conversation.id,
        status=QUEUED,
        priority=PRIORITIES[priority],
        risk="none",
        reason=reason,
        language=conversation.language,
        channel=channel,
        country=conversation.country,
        consent=consent or ("requested_by_person" if reason == "request_human" else reason),
    )
    session.add(case)
    session.flush()
    _event(
        session, case, "opened", reason=reason, priority=priority, organisation=organisation.name
    )
    flag(session, case, risk, indicators or [], screening)
    return Opened(case, created=True)


def _more_urgent(first: str, second: str) -> str:
    return min(first, second, key=PRIORITIES.__getitem__)


def flag(
    session: Session,
    case: Case,
    risk: str,
    indicators: list[dict[str, Any]],
    screening: dict[str, Any] | None = None,
) -> None:
    """Record red flags on a case; its risk, and so its priority, only go up while open."""
    if not indicators and not screening and risk in {"none", case.risk}:
        return
    if RISKS.index(risk) > RISKS.index(case.risk):
        case.risk = risk
        wanted = PRIORITY_OF_RISK.get(risk)
        if wanted is not None and PRIORITIES[wanted] < case.priority:
            case.priority = PRIORITIES[wanted]
    # The evidence quotes the person: it goes in the encrypted text of the event.
    _event(
        session,
        case,
        "flagged",
        text=json.dumps({"indicators": indicators, "screening": screening or {}}),
        risk=risk,
        codes=sorted({str(i.get("code")) for i in indicators}),
    )


def indicators_of(case: Case) -> list[dict[str, Any]]:
    """Every indicator recorded on the case, with its evidence, oldest first."""
    found: list[dict[str, Any]] = []
    for event in case.events:
        if event.kind == "flagged" and event.text:
            found.extend(json.loads(event.text).get("indicators", []))
    return found


def _require_case_role(user: User) -> None:
    if user.role not in CASE_ROLES:
        raise PermissionDenied(f"role {user.role!r} cannot work on cases")


def list_cases(session: Session, user: User, status: str | None = None) -> list[Case]:
    _require_case_role(user)
    query = select(Case).where(Case.organisation_id == user.organisation_id)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        query = query.where(Case.status == status)
    return list(session.scalars(query.order_by(Case.priority, Case.opened_at, Case.id)))


def get_case(session: Session, user: User, case_id: int) -> Case:
    _require_case_role(user)
    case = session.get(Case, case_id)
    if case is None or case.organisation_id != user.organisation_id:
        raise CaseNotFound(case_id)
    return case


def open_case_of(session: Session, conversation_id: int) -> Case | None:
    return session.scalar(
        select(Case).where(Case.conversation_id == conversation_id, Case.status != CLOSED)
    )


def claim(session: Session, user: User, case_id: int) -> Case:
    case = get_case(session, user, case_id)
    result = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == QUEUED)
        .values(status=CLAIMED, assigned_user_id=user.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], result).rowcount
    if won != 1:
        raise CaseConflict(f"case {case_id} is not waiting in the queue")
    session.refresh(case)
    _event(session, case, "assigned", user)
    return case


def works_on(case: Case, user: User) -> bool:
    """The caseworker the case is assigned to, or a supervisor of its organisation."""
    return case.assigned_user_id == user.id or user.role in {SUPERVISOR, ADMIN}


def _require_working_on(case: Case, user: User) -> None:
    if case.status == CLOSED:
        raise CaseConflict(f"case {case.id} is closed")
    if not works_on(case, user):
        raise CaseConflict(f"case {case.id} is not claimed by you")


def add_caseworker_message(session: Session, user: User, case_id: int, text: str) -> Message:
    """Record a caseworker's reply as an outbound message for the outbox to deliver."""
    case = get_case(session, user, case_id)
    _require_working_on(case, user)
    conversation = case.conversation
    message = Message(
        conversation_id=conversation.id,
        direction="out",
        author="caseworker",
        channel=case.channel,
        body=text,
        status="queued",
        case_id=case.id,
        user_id=user.id,
    )
    session.add(message)
    session.flush()
    _event(session, case, "message", user, direction="out", message_id=message.id)
    return message


def add_person_message(session: Session, case: Case, message: Message) -> None:
    message.case_id = case.id
    _event(session, case, "message", direction="in", message_id=message.id)


def record_delivery_failure(session: Session, message: Message, reason: str) -> CaseEvent | None:
    """An outbound message that could not be delivered shows on its case, or the open one."""
    case = (
        session.get(Case, message.case_id)
        if message.case_id is not None
        else open_case_of(session, message.conversation_id)
    )
    if case is None:
        return None
    return _event(session, case, "delivery_failed", message_id=message.id, error=reason)


def record_attachment_opened(
    session: Session, user: User, case: Case, message_id: int, n: int
) -> CaseEvent:
    """Who opened which of the person's attachments, and when."""
    return _event(session, case, "attachment_opened", user, message_id=message_id, n=n)


def add_note(session: Session, user: User, case_id: int, text: str) -> CaseEvent:
    case = get_case(session, user, case_id)
    return _event(session, case, "note", user, text=text)


def close(session: Session, user: User, case_id: int, outcome: str) -> Case:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    case = get_case(session, user, case_id)
    _require_working_on(case, user)
    case.status = CLOSED
    case.outcome = outcome
    case.closed_at = utcnow()
    case.conversation.mode = "bot"
    _event(session, case, "closed", user, outcome=outcome)
    return case


def transcript(session: Session, case: Case) -> list[Message]:
    """The conversation's messages from shortly before the case opened onwards."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == case.conversation_id)
            .order_by(Message.id)
        )
    )
