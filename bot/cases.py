"""The one case service: the bot, the API and the dashboard all go through it.

A case is a row plus an append-only event log. Claiming is one conditional UPDATE,
so of many simultaneous claims exactly one changes a row, on SQLite and PostgreSQL
alike. Every read is scoped to the caller's organisation: another organisation's
case does not exist for them. Every view of and action on a case by a person is
written to the audit log in the same transaction, and every change is published
to the organisation's live updates once that transaction commits (``bot.live``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot import live
from bot.config import DEFAULT_FIRST_RESPONSE_MINUTES
from bot.errors import AlertNotFound, CaseConflict, CaseNotFound, PermissionDenied
from bot.models import (
    Alert,
    AuditEntry,
    Case,
    CaseEvent,
    Conversation,
    Message,
    Organisation,
    User,
    utcnow,
)

# Case statuses.
QUEUED = "queued"
CLAIMED = "claimed"
CLOSED = "closed"
STATUSES = (QUEUED, CLAIMED, CLOSED)

# Lower is more urgent.
PRIORITIES: dict[str, int] = {"emergency": 0, "high": 1, "medium": 2, "request": 3}
PRIORITY_NAMES: dict[int, str] = {value: name for name, value in PRIORITIES.items()}
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
# May reassign any case of their organisation, see its alerts and audit trail.
SUPERVISING_ROLES = frozenset({SUPERVISOR, ADMIN})

# Audit actions.
VIEWED = "viewed"
CLAIMED_ACTION = "claimed"
REPLIED = "replied"
NOTED = "noted"
TRANSFERRED = "transferred"
RELEASED = "released"
CLOSED_ACTION = "closed"
REOPENED = "reopened"
CONSENT_RECORDED = "consent_recorded"
AUDIT_VIEWED = "audit_viewed"
ATTACHMENT_OPENED = "attachment_opened"
EXPORTED = "exported"

# A new request within this time of closing reopens the same case.
REOPEN_WITHIN = timedelta(days=7)
# Consent that lets a case, and what the person said, go to another organisation.
SHARING_CONSENT = "given"
# How long after the question a reply "1".."5" counts as the person's rating.
RATING_ANSWER_WITHIN = timedelta(hours=24)
# A case page open in a browser refreshes its transcript with every message: the views
# of one user within this long are one line of the audit trail.
VIEW_AUDITED_EVERY = timedelta(minutes=10)
RATINGS = range(1, 6)
DEADLINE_MISSED = "deadline_missed"


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool
    reopened: bool = False


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


def live_event(case: Case, kind: str, **extra: Any) -> dict[str, Any]:
    """What subscribers hear about a case: ids, status, priority, language, channel, times."""
    return {
        "kind": kind,
        "case_id": case.id,
        "organisation_id": case.organisation_id,
        "status": case.status,
        "priority": PRIORITY_NAMES[case.priority],
        "language": case.language,
        "channel": case.channel,
        "assigned_user_id": case.assigned_user_id,
        "opened_at": case.opened_at,
        "deadline_at": case.deadline_at,
    } | extra


def _publish(session: Session, case: Case, kind: str, **extra: Any) -> None:
    live.record(session, case.organisation_id, live_event(case, kind, **extra))


def audit(
    session: Session, user: User | None, action: str, case: Case | None = None, **data: Any
) -> AuditEntry:
    """One line of the audit trail: who, what, which case, when. Never a body or address."""
    organisation_id = user.organisation_id if user is not None else None
    if organisation_id is None:
        assert case is not None, "a system action is always about a case"
        organisation_id = case.organisation_id
    entry = AuditEntry(
        user_id=user.id if user else None,
        organisation_id=organisation_id,
        case_id=case.id if case else None,
        action=action,
        data=data,
    )
    session.add(entry)
    return entry


def deadline_for(
    priority: str, start: datetime, minutes: Mapping[str, int] | None = None
) -> datetime:
    """When the first response to a case of ``priority`` opened at ``start`` is due."""
    table = minutes or DEFAULT_FIRST_RESPONSE_MINUTES
    return start + timedelta(minutes=table[priority])


def _tighten_deadline(case: Case, minutes: Mapping[str, int] | None, now: datetime) -> None:
    """A raised priority brings the deadline forward, never back."""
    due = deadline_for(PRIORITY_NAMES[case.priority], now, minutes)
    if case.deadline_at is None or due < case.deadline_at:
        case.deadline_at = due


def route(
    session: Session, language: str, country: str | None, chosen: int | None = None
) -> Organisation:
    """The organisation that takes a case: the one whose link the person followed, else
    the most specific match, else the first generalist."""
    if chosen is not None and (organisation := session.get(Organisation, chosen)) is not None:
        return organisation
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
    deadlines: Mapping[str, int] | None = None,
) -> Opened:
    """Open a case for the conversation, raise the urgency of the one already open, or
    reopen the one closed less than ``REOPEN_WITHIN`` ago."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    risk = risk if risk in RISKS else "none"
    priority = _more_urgent(priority, PRIORITY_OF_RISK.get(risk, priority))
    now = utcnow()
    current = open_case_of(session, conversation.id)
    conversation.mode = "human"
    if current is not None:
        if PRIORITIES[priority] < current.priority:
            current.priority = PRIORITIES[priority]
            _tighten_deadline(current, deadlines, now)
            _event(session, current, "escalated", priority=priority, reason=reason)
            _publish(session, current, "escalated")
        flag(session, current, risk, indicators or [], screening, deadlines=deadlines)
        return Opened(current, created=False)
    previous = recently_closed(session, conversation.id, now)
    if previous is not None:
        _reopen(session, previous, reason=reason, priority=priority, deadlines=deadlines, now=now)
        if consent and previous.consent != SHARING_CONSENT:
            previous.consent = consent
        flag(session, previous, risk, indicators or [], screening, deadlines=deadlines)
        return Opened(previous, created=False, reopened=True)
    organisation = route(
        session, conversation.language, conversation.country, conversation.organisation_id
    )
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
        opened_at=now,
        deadline_at=deadline_for(priority, now, deadlines),
    )
    session.add(case)
    session.flush()
    _event(
        session, case, "opened", reason=reason, priority=priority, organisation=organisation.name
    )
    _publish(session, case, "opened")
    flag(session, case, risk, indicators or [], screening, deadlines=deadlines)
    return Opened(case, created=True)


def recently_closed(session: Session, conversation_id: int, now: datetime) -> Case | None:
    """The conversation's case closed less than ``REOPEN_WITHIN`` ago (never an erased one)."""
    return session.scalar(
        select(Case)
        .where(
            Case.conversation_id == conversation_id,
            Case.status == CLOSED,
            Case.closed_at >= now - REOPEN_WITHIN,
            Case.outcome != "erased",
        )
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(1)
    )


def _reopen(
    session: Session,
    case: Case,
    *,
    reason: str,
    priority: str,
    deadlines: Mapping[str, int] | None,
    now: datetime,
) -> None:
    """Same case, same organisation; straight back to its caseworker if they still work there."""
    previous = case.assigned_user
    back_to = (
        previous
        if previous is not None
        and previous.is_active
        and previous.organisation_id == case.organisation_id
        and previous.role in CASE_ROLES
        else None
    )
    previous_outcome = case.outcome
    case.status = CLAIMED if back_to else QUEUED
    case.assigned_user_id = back_to.id if back_to else None
    case.claimed_at = now if back_to else None
    case.outcome = None
    case.closed_at = None
    case.priority = PRIORITIES[priority]
    case.deadline_at = deadline_for(priority, now, deadlines)
    case.first_response_at = None
    case.deadline_missed_at = None
    session.flush()
    _event(
        session,
        case,
        "reopened",
        reason=reason,
        priority=priority,
        previous_outcome=previous_outcome,
        assigned_user_id=case.assigned_user_id,
    )
    audit(session, None, REOPENED, case, assigned_user_id=case.assigned_user_id)
    _publish(session, case, "reopened")


def _more_urgent(first: str, second: str) -> str:
    return min(first, second, key=PRIORITIES.__getitem__)


def flag(
    session: Session,
    case: Case,
    risk: str,
    indicators: list[dict[str, Any]],
    screening: dict[str, Any] | None = None,
    *,
    deadlines: Mapping[str, int] | None = None,
) -> None:
    """Record red flags on a case; its risk, and so its priority, only go up while open."""
    if not indicators and not screening and risk in {"none", case.risk}:
        return
    if RISKS.index(risk) > RISKS.index(case.risk):
        case.risk = risk
        wanted = PRIORITY_OF_RISK.get(risk)
        if wanted is not None and PRIORITIES[wanted] < case.priority:
            case.priority = PRIORITIES[wanted]
            _tighten_deadline(case, deadlines, utcnow())
    # The evidence quotes the person: it goes in the encrypted text of the event.
    _event(
        session,
        case,
        "flagged",
        text=json.dumps({"indicators": indicators, "screening": screening or {}}),
        risk=risk,
        codes=sorted({str(i.get("code")) for i in indicators}),
    )
    _publish(session, case, "flagged")


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


def _require_supervising(user: User) -> None:
    if user.role not in SUPERVISING_ROLES:
        raise PermissionDenied(f"role {user.role!r} cannot do this; a supervisor can")


def list_cases(session: Session, user: User, status: str | None = None) -> list[Case]:
    _require_case_role(user)
    query = select(Case).where(Case.organisation_id == user.organisation_id)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        query = query.where(Case.status == status)
    return list(session.scalars(query.order_by(Case.priority, Case.opened_at, Case.id)))


def _find(session: Session, user: User, case_id: int) -> Case:
    """The case, if the user's role and organisation let them see it."""
    _require_case_role(user)
    case = session.get(Case, case_id)
    if case is None or case.organisation_id != user.organisation_id:
        raise CaseNotFound(case_id)
    return case


def get_case(session: Session, user: User, case_id: int) -> Case:
    """One case, for viewing: the view is audited, once per ``VIEW_AUDITED_EVERY``."""
    case = _find(session, user, case_id)
    if not _viewed_lately(session, user, case):
        audit(session, user, VIEWED, case)
    return case


def _viewed_lately(session: Session, user: User, case: Case) -> bool:
    since = utcnow() - VIEW_AUDITED_EVERY
    return (
        session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.user_id == user.id,
                AuditEntry.case_id == case.id,
                AuditEntry.action == VIEWED,
                AuditEntry.created_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def open_case_of(session: Session, conversation_id: int) -> Case | None:
    return session.scalar(
        select(Case).where(Case.conversation_id == conversation_id, Case.status != CLOSED)
    )


def _take(session: Session, user: User, case_id: int) -> bool:
    """The conditional UPDATE at the heart of claiming: True for exactly one contender."""
    result = session.execute(
        update(Case)
        .where(Case.id == case_id, Case.status == QUEUED)
        .values(status=CLAIMED, assigned_user_id=user.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _claimed(session: Session, user: User, case: Case, **data: Any) -> Case:
    session.refresh(case)
    _event(session, case, "assigned", user)
    audit(session, user, CLAIMED_ACTION, case, **data)
    _publish(session, case, "claimed", user_id=user.id)
    return case


def claim(session: Session, user: User, case_id: int) -> Case:
    case = _find(session, user, case_id)
    if not _take(session, user, case.id):
        raise CaseConflict(f"case {case_id} is not waiting in the queue")
    return _claimed(session, user, case)


# How many waiting cases ``next_case`` looks at in one read; it reads again if
# colleagues took them all meanwhile.
NEXT_CANDIDATES = 10


def next_case(session: Session, user: User) -> Case | None:
    """Claim the most urgent waiting case of the user's organisation; None when none waits."""
    _require_case_role(user)
    while True:
        candidates = list(
            session.scalars(
                select(Case.id)
                .where(Case.organisation_id == user.organisation_id, Case.status == QUEUED)
                .order_by(Case.priority, Case.opened_at, Case.id)
                .limit(NEXT_CANDIDATES)
            )
        )
        if not candidates:
            return None
        for case_id in candidates:
            if _take(session, user, case_id):
                case = session.get(Case, case_id)
                assert case is not None
                return _claimed(session, user, case, next=True)


def works_on(case: Case, user: User) -> bool:
    """The caseworker the case is assigned to, or a supervisor of its organisation."""
    return case.assigned_user_id == user.id or user.role in SUPERVISING_ROLES


def _require_working_on(case: Case, user: User) -> None:
    if case.status == CLOSED:
        raise CaseConflict(f"case {case.id} is closed")
    if not works_on(case, user):
        raise CaseConflict(f"case {case.id} is not claimed by you")


def release(session: Session, user: User, case_id: int) -> Case:
    """Put a claimed case back in the queue (its caseworker, or a supervisor)."""
    case = _find(session, user, case_id)
    _require_working_on(case, user)
    if case.status != CLAIMED:
        raise CaseConflict(f"case {case.id} is not claimed")
    previous = case.assigned_user_id
    case.status = QUEUED
    case.assigned_user_id = None
    case.claimed_at = None
    session.flush()
    _event(session, case, "released", user, from_user_id=previous)
    audit(session, user, RELEASED, case, from_user_id=previous)
    _publish(session, case, "released", user_id=user.id)
    return case


def colleagues(session: Session, user: User) -> list[User]:
    """Who in the user's organisation can take a case: active, with a case role."""
    _require_case_role(user)
    return list(
        session.scalars(
            select(User)
            .where(
                User.organisation_id == user.organisation_id,
                User.is_active.is_(True),
                User.role.in_(sorted(CASE_ROLES)),
            )
            .order_by(User.username)
        )
    )


def other_organisations(session: Session, user: User) -> list[Organisation]:
    """Where a case can be transferred with the person's consent."""
    _require_case_role(user)
    return list(
        session.scalars(
            select(Organisation)
            .where(Organisation.id != user.organisation_id)
            .order_by(Organisation.name)
        )
    )


def transfer(
    session: Session,
    user: User,
    case_id: int,
    *,
    to_user_id: int | None = None,
    to_organisation_id: int | None = None,
    deadlines: Mapping[str, int] | None = None,
) -> Case:
    """Hand a case to a colleague, or with the person's consent to another organisation.

    A supervisor may reassign any case of their organisation; a caseworker only the
    case they hold.
    """
    if (to_user_id is None) == (to_organisation_id is None):
        raise ValueError("give either a colleague (user_id) or an organisation (organisation_id)")
    case = _find(session, user, case_id)
    if case.status == CLOSED:
        raise CaseConflict(f"case {case.id} is closed")
    if user.role not in SUPERVISING_ROLES and case.assigned_user_id != user.id:
        raise PermissionDenied("only a supervisor can reassign a case you do not hold")
    if to_user_id is not None:
        return _transfer_to_colleague(session, user, case, to_user_id)
    assert to_organisation_id is not None
    return _transfer_to_organisation(session, user, case, to_organisation_id, deadlines)


def _transfer_to_colleague(session: Session, user: User, case: Case, to_user_id: int) -> Case:
    target = session.get(User, to_user_id)
    if (
        target is None
        or target.organisation_id != case.organisation_id
        or not target.is_active
        or target.role not in CASE_ROLES
    ):
        raise ValueError(f"no colleague with id {to_user_id} can take cases in your organisation")
    if case.status == CLAIMED and case.assigned_user_id == target.id:
        raise CaseConflict(f"case {case.id} is already with that colleague")
    previous = case.assigned_user_id
    case.status = CLAIMED
    case.assigned_user_id = target.id
    case.claimed_at = utcnow()
    session.flush()
    _event(session, case, "transferred", user, from_user_id=previous, to_user_id=target.id)
    audit(session, user, TRANSFERRED, case, from_user_id=previous, to_user_id=target.id)
    _publish(session, case, "transferred", user_id=user.id)
    return case


def _transfer_to_organisation(
    session: Session,
    user: User,
    case: Case,
    to_organisation_id: int,
    deadlines: Mapping[str, int] | None,
) -> Case:
    target = session.get(Organisation, to_organisation_id)
    if target is None or target.id == case.organisation_id:
        raise ValueError(f"no other organisation with id {to_organisation_id}")
    if case.consent != SHARING_CONSENT:
        raise CaseConflict(
            f"case {case.id}: the person has not consented to share it with another organisation"
        )
    source = case.organisation_id
    now = utcnow()
    previous = case.assigned_user_id
    # The receiving organisation starts with a full first-response window.
    case.organisation_id = target.id
    case.status = QUEUED
    case.assigned_user_id = None
    case.claimed_at = None
    case.deadline_at = deadline_for(PRIORITY_NAMES[case.priority], now, deadlines)
    case.first_response_at = None
    case.deadline_missed_at = None
    session.flush()
    _event(
        session,
        case,
        "transferred",
        user,
        from_organisation_id=source,
        to_organisation_id=target.id,
        from_user_id=previous,
    )
    audit(
        session, user, TRANSFERRED, case, from_organisation_id=source, to_organisation_id=target.id
    )
    # The sending organisation's queue loses it; the receiving one's gains it.
    live.record(session, source, live_event(case, "transferred", user_id=user.id))
    _publish(session, case, "transferred", user_id=user.id)
    return case


def record_consent(session: Session, user: User, case_id: int) -> Case:
    """The person agreed, in the conversation, that their case may be shared."""
    case = _find(session, user, case_id)
    _require_working_on(case, user)
    if case.consent != SHARING_CONSENT:
        case.consent = SHARING_CONSENT
        _event(session, case, "consent", user, consent=SHARING_CONSENT)
        audit(session, user, CONSENT_RECORDED, case)
    return case


def record_safe_word(session: Session, conversation_id: int) -> CaseEvent | None:
    """The person wrote their safe word: their open case shows it (and stops replies)."""
    case = open_case_of(session, conversation_id)
    if case is None:
        return None
    event = _event(session, case, "safe_word")
    _publish(session, case, "safe_word")
    return event


def _silenced_by_safe_word(session: Session, case: Case) -> bool:
    """Whether the person's last word on the case was their safe word."""
    latest = session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.kind.in_(("safe_word", "message")),
        )
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return latest is not None and latest.kind == "safe_word"


def silenced(session: Session, case: Case) -> bool:
    """Nothing may be sent to the person now: their last word was their safe word."""
    return _silenced_by_safe_word(session, case)


def add_caseworker_message(session: Session, user: User, case_id: int, text: str) -> Message:
    """Record a caseworker's reply as an outbound message for the outbox to deliver."""
    case = _find(session, user, case_id)
    _require_working_on(case, user)
    if _silenced_by_safe_word(session, case):
        raise CaseConflict(
            f"case {case_id}: the person wrote their safe word (someone may be watching "
            "their phone); wait until they write again"
        )
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
    if case.first_response_at is None:
        case.first_response_at = message.created_at
    _event(session, case, "message", user, direction="out", message_id=message.id)
    audit(session, user, REPLIED, case, message_id=message.id)
    _publish(session, case, "message", direction="out")
    return message


def add_person_message(session: Session, case: Case, message: Message) -> None:
    message.case_id = case.id
    _event(session, case, "message", direction="in", message_id=message.id)
    _publish(session, case, "message", direction="in")


def record_delivery_failure(session: Session, message: Message, reason: str) -> CaseEvent | None:
    """An outbound message that could not be delivered shows on its case, or the open one."""
    case = (
        session.get(Case, message.case_id)
        if message.case_id is not None
        else open_case_of(session, message.conversation_id)
    )
    if case is None:
        return None
    _publish(session, case, "delivery_failed")
    return _event(session, case, "delivery_failed", message_id=message.id, error=reason)


def record_attachment_opened(
    session: Session, user: User, case: Case, message_id: int, n: int
) -> CaseEvent:
    """Who opened which of the person's attachments, and when."""
    audit(session, user, ATTACHMENT_OPENED, case, message_id=message_id, n=n)
    return _event(session, case, "attachment_opened", user, message_id=message_id, n=n)


def add_note(session: Session, user: User, case_id: int, text: str) -> CaseEvent:
    case = _find(session, user, case_id)
    event = _event(session, case, "note", user, text=text)
    session.flush()
    audit(session, user, NOTED, case, event_id=event.id)
    _publish(session, case, "note")
    return event


def close(session: Session, user: User, case_id: int, outcome: str) -> Case:
    """Close with an outcome; the conversation goes back to the bot."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    case = _find(session, user, case_id)
    _require_working_on(case, user)
    case.status = CLOSED
    case.outcome = outcome
    case.closed_at = utcnow()
    case.conversation.mode = "bot"
    _event(session, case, "closed", user, outcome=outcome)
    audit(session, user, CLOSED_ACTION, case, outcome=outcome)
    _publish(session, case, "closed")
    return case


def close_erased(session: Session, case: Case) -> Case:
    """The person had everything they wrote erased: their open case closes as ``erased``."""
    case.status = CLOSED
    case.outcome = "erased"
    case.closed_at = utcnow()
    case.conversation.mode = "bot"
    _event(session, case, "closed", outcome="erased")
    audit(session, None, CLOSED_ACTION, case, outcome="erased")
    _publish(session, case, "closed")
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


def audit_trail(session: Session, user: User, case_id: int) -> list[AuditEntry]:
    """Who viewed and did what on a case, oldest first (supervisors)."""
    case = _find(session, user, case_id)
    _require_supervising(user)
    entries = list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)
        )
    )
    audit(session, user, AUDIT_VIEWED, case)
    return entries


# First-response deadlines.


def _overdue(now: datetime) -> Any:
    return (
        Case.status != CLOSED,
        Case.first_response_at.is_(None),
        Case.deadline_at.is_not(None),
        Case.deadline_at <= now,
    )


def overdue_cases(session: Session, user: User, now: datetime | None = None) -> list[Case]:
    """The user's organisation's open cases whose first response is overdue, most overdue first."""
    _require_case_role(user)
    return list(
        session.scalars(
            select(Case)
            .where(Case.organisation_id == user.organisation_id, *_overdue(now or utcnow()))
            .order_by(Case.deadline_at, Case.id)
        )
    )


def sweep_deadlines(session: Session, now: datetime | None = None) -> list[Alert]:
    """Mark every newly overdue case once, and alert its organisation's supervisors.

    Safe with several workers: marking is a conditional UPDATE, so one of them wins.
    """
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Case.id)
            .where(Case.deadline_missed_at.is_(None), *_overdue(now))
            .order_by(Case.deadline_at, Case.id)
        )
    )
    alerts: list[Alert] = []
    for case_id in due:
        result = session.execute(
            update(Case)
            .where(Case.id == case_id, Case.deadline_missed_at.is_(None))
            .values(deadline_missed_at=now)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount != 1:
            continue
        case = session.get(Case, case_id)
        assert case is not None
        session.refresh(case)
        assert case.deadline_at is not None
        _event(session, case, DEADLINE_MISSED, deadline_at=case.deadline_at.isoformat())
        alert = Alert(
            organisation_id=case.organisation_id,
            case_id=case.id,
            kind=DEADLINE_MISSED,
            data={
                "priority": PRIORITY_NAMES[case.priority],
                "deadline_at": case.deadline_at.isoformat(),
            },
        )
        session.add(alert)
        session.flush()
        _publish(session, case, DEADLINE_MISSED, alert_id=alert.id)
        alerts.append(alert)
    return alerts


def alerts(session: Session, user: User, *, include_acknowledged: bool = False) -> list[Alert]:
    """The organisation's alerts for its supervisors, newest first."""
    _require_supervising(user)
    query = select(Alert).where(Alert.organisation_id == user.organisation_id)
    if not include_acknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    return list(session.scalars(query.order_by(Alert.id.desc())))


def acknowledge_alert(session: Session, user: User, alert_id: int) -> Alert:
    _require_supervising(user)
    alert = session.get(Alert, alert_id)
    if alert is None or alert.organisation_id != user.organisation_id:
        raise AlertNotFound(alert_id)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = user.id
    return alert


# A supervisor's figures for their organisation.


@dataclass(frozen=True)
class Figures:
    """The organisation's queue now, and how it did over the last ``days``."""

    days: int
    waiting: dict[str, int]
    in_progress: int
    overdue: int
    opened: int
    closed: int
    outcomes: dict[str, int]
    deadlines_missed: int
    # Minutes from opening to the first reply, over the cases first answered in the period.
    median_first_response_minutes: float | None
    ratings: dict[int, int]
    average_rating: float | None


def figures(session: Session, user: User, *, days: int = 30) -> Figures:
    """Counts only: no case, person or message is named."""
    _require_supervising(user)
    if days < 1:
        raise ValueError("days must be at least 1")
    now = utcnow()
    since = now - timedelta(days=days)
    mine = Case.organisation_id == user.organisation_id

    def count(*where: Any) -> int:
        return session.scalar(select(func.count()).select_from(Case).where(mine, *where)) or 0

    waiting = dict.fromkeys(PRIORITIES, 0)
    for priority, number in session.execute(
        select(Case.priority, func.count())
        .where(mine, Case.status == QUEUED)
        .group_by(Case.priority)
    ):
        waiting[PRIORITY_NAMES[priority]] = number
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for outcome, number in session.execute(
        select(Case.outcome, func.count())
        .where(mine, Case.status == CLOSED, Case.closed_at >= since)
        .group_by(Case.outcome)
    ):
        if outcome in outcomes:
            outcomes[outcome] = number
    waits = [
        (answered - opened).total_seconds() / 60
        for opened, answered in session.execute(
            select(Case.opened_at, Case.first_response_at).where(
                mine, Case.first_response_at >= since
            )
        )
        if answered is not None
    ]
    ratings = dict.fromkeys(RATINGS, 0)
    for rating, number in session.execute(
        select(Case.rating, func.count())
        .where(mine, Case.rating.is_not(None), Case.closed_at >= since)
        .group_by(Case.rating)
    ):
        if rating in ratings:
            ratings[rating] = number
    rated = sum(ratings.values())
    return Figures(
        days=days,
        waiting=waiting,
        in_progress=count(Case.status == CLAIMED),
        overdue=count(*_overdue(now)),
        opened=count(Case.opened_at >= since),
        closed=sum(outcomes.values()),
        outcomes=outcomes,
        deadlines_missed=count(Case.deadline_missed_at >= since),
        median_first_response_minutes=round(median(waits), 1) if waits else None,
        ratings=ratings,
        average_rating=(
            round(sum(r * n for r, n in ratings.items()) / rated, 2) if rated else None
        ),
    )


# The person's rating after closing.


def ask_rating(session: Session, case: Case) -> bool:
    """Note that the closed case's rating question goes out now; False if it was asked before."""
    if case.status != CLOSED or case.rating_requested_at is not None:
        return False
    case.rating_requested_at = utcnow()
    _event(session, case, "rating_requested")
    return True


# Ethiopic numerals are not decimal digits (there is no zero); Amharic speakers may use them.
ETHIOPIC_NUMERALS = {"፩": 1, "፪": 2, "፫": 3, "፬": 4, "፭": 5}


def parse_rating(text: str | None) -> int | None:
    """A single digit 1 to 5, in any script's decimal digits (Arabic-Indic, Devanagari...)
    or an Ethiopic numeral."""
    value = (text or "").strip()
    if value in ETHIOPIC_NUMERALS:
        return ETHIOPIC_NUMERALS[value]
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return int(value) if len(value) == 1 and value.isdecimal() and int(value) in RATINGS else None


def record_rating(session: Session, message: Message) -> Case | None:
    """The inbound ``message`` answers the pending rating question: record it on the case.

    It answers only if it is "1" to "5", the conversation is with the bot, the question
    went out less than ``RATING_ANSWER_WITHIN`` ago, no rating was recorded yet, and the
    person wrote nothing else since the question.
    """
    value = parse_rating(message.body)
    if value is None:
        return None
    if open_case_of(session, message.conversation_id) is not None:
        return None
    case = session.scalar(
        select(Case)
        .where(
            Case.conversation_id == message.conversation_id,
            Case.status == CLOSED,
            Case.rating.is_(None),
            Case.rating_requested_at.is_not(None),
            Case.rating_requested_at >= utcnow() - RATING_ANSWER_WITHIN,
        )
        .order_by(Case.rating_requested_at.desc())
        .limit(1)
    )
    if case is None:
        return None
    assert case.rating_requested_at is not None
    written_since = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.direction == "in",
            Message.id < message.id,
            Message.created_at >= case.rating_requested_at,
        )
    )
    if written_since:
        return None
    case.rating = value
    message.case_id = case.id
    _event(session, case, "rated", rating=value, message_id=message.id)
    _publish(session, case, "rated")
    return case


def referring_case(session: Session, user: User, case_id: int) -> Case:
    """The case a caseworker refers its person from: one they work on, not closed."""
    case = _find(session, user, case_id)
    _require_working_on(case, user)
    return case


def record_referral(
    session: Session, user: User | None, case: Case, status: str, **data: Any
) -> CaseEvent:
    """A referral from the case changed (bot.referrals): the timeline and live view show it."""
    event = _event(session, case, f"referral_{status}", user, **data)
    _publish(session, case, f"referral_{status}")
    return event
