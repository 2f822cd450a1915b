"""Closed-loop referrals: from a case to a service or another organisation, and back.

A caseworker refers the person only with their recorded consent, and shares only
what they agreed to (``SHAREABLE``). When the receiving side is an organisation on
the helpline, its caseworkers see the referral with the shared details and accept
or decline it, then record whether it was completed or the person could not be
reached. When it is a service outside the helpline, the referring caseworker
records what the service said. Every change is an event on the referring case, so
the case's timeline shows what happened. A referral is visible to the two
organisations involved and to no one else: to any other it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot import cases
from bot.errors import (
    PermissionDenied,
    ReferralConflict,
    ReferralNotFound,
)
from bot.hsds import NEEDS
from bot.models import Case, DirectoryService, Organisation, Referral, User, utcnow

# Statuses.
SENT = "sent"
ACCEPTED = "accepted"
DECLINED = "declined"
COMPLETED = "completed"
NO_CONTACT = "no_contact"
STATUSES = (SENT, ACCEPTED, DECLINED, COMPLETED, NO_CONTACT)
OPEN = frozenset({SENT, ACCEPTED})
# Which status may follow which.
TRANSITIONS: dict[str, frozenset[str]] = {
    SENT: frozenset({ACCEPTED, DECLINED, NO_CONTACT}),
    ACCEPTED: frozenset({COMPLETED, NO_CONTACT}),
}

# What a person may agree to share with the receiving side.
SHAREABLE = ("language", "country", "channel", "needs", "indicators", "summary", "contact")
CONSENT_METHODS = ("in_chat", "by_phone", "in_person", "in_writing")
RESPOND_WITHIN = timedelta(days=3)
# Audit action of a new referral.
REFERRED = "referred"
COMPLETE_WITHIN = timedelta(days=14)


@dataclass(frozen=True)
class Request:
    """What a caseworker fills in to refer a person."""

    to_service_id: int | None = None
    to_organisation_id: int | None = None
    needs: tuple[str, ...] = ()
    consent_method: str = ""
    shared: tuple[str, ...] = ()
    summary: str | None = None
    respond_within: timedelta = RESPOND_WITHIN


def _validate(request: Request) -> None:
    if (request.to_service_id is None) == (request.to_organisation_id is None):
        raise ValueError("refer to exactly one of a service (to_service_id) or an organisation")
    if request.consent_method not in CONSENT_METHODS:
        raise ValueError(
            "the person's consent is required: consent_method one of " + ", ".join(CONSENT_METHODS)
        )
    unknown = [n for n in request.needs if n not in NEEDS]
    if unknown:
        raise ValueError(f"unknown needs {unknown}; one of {', '.join(NEEDS)}")
    not_shareable = [s for s in request.shared if s not in SHAREABLE]
    if not_shareable:
        raise ValueError(f"cannot share {not_shareable}; one of {', '.join(SHAREABLE)}")
    if request.summary and "summary" not in request.shared:
        raise ValueError("a summary is shared only if the person agreed to share it")
    if request.respond_within <= timedelta(0):
        raise ValueError("the time to respond must be positive")


def create(session: Session, user: User, case_id: int, request: Request) -> Referral:
    """Refer the person of a case the caller works on."""
    case = cases.referring_case(session, user, case_id)
    _validate(request)
    to_organisation_id = request.to_organisation_id
    if request.to_service_id is not None:
        service = session.get(DirectoryService, request.to_service_id)
        if service is None or service.status != "active":
            raise ValueError(f"no active service {request.to_service_id}")
        to_organisation_id = service.organization.helpline_organisation_id
    elif session.get(Organisation, to_organisation_id) is None:
        raise ValueError(f"no organisation {to_organisation_id}")
    if to_organisation_id == user.organisation_id:
        raise ValueError("a referral goes to another organisation; transfer the case instead")
    now = utcnow()
    referral = Referral(
        case_id=case.id,
        from_organisation_id=user.organisation_id,
        created_by_user_id=user.id,
        to_service_id=request.to_service_id,
        to_organisation_id=to_organisation_id,
        status=SENT,
        needs=list(request.needs),
        consent_method=request.consent_method,
        consent_at=now,
        shared=[s for s in SHAREABLE if s in request.shared],
        summary=request.summary or None,
        created_at=now,
        respond_by=now + request.respond_within,
    )
    session.add(referral)
    session.flush()
    cases.record_referral(
        session,
        user,
        case,
        SENT,
        referral_id=referral.id,
        to=_receiver_name(referral),
        shared=referral.shared,
        consent=referral.consent_method,
    )
    cases.audit(session, user, REFERRED, case, referral_id=referral.id)
    return referral


def _receiver_name(referral: Referral) -> str:
    if referral.to_service is not None:
        return referral.to_service.name
    return referral.to_organisation.name if referral.to_organisation else ""


def _visible(referral: Referral | None, user: User) -> bool:
    return referral is not None and user.organisation_id in {
        referral.from_organisation_id,
        referral.to_organisation_id,
    }


def get(session: Session, user: User, referral_id: int) -> Referral:
    if user.role not in cases.CASE_ROLES:
        raise PermissionDenied(f"role {user.role!r} cannot work on referrals")
    referral = session.get(Referral, referral_id)
    if referral is None or not _visible(referral, user):
        raise ReferralNotFound(referral_id)
    return referral


def is_overdue(referral: Referral, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if referral.status == SENT:
        return now > referral.respond_by
    if referral.status == ACCEPTED and referral.follow_up_by is not None:
        return now > referral.follow_up_by
    return False


def list_referrals(
    session: Session,
    user: User,
    *,
    direction: str = "outgoing",
    status: str | None = None,
    overdue: bool = False,
    now: datetime | None = None,
) -> list[Referral]:
    if user.role not in cases.CASE_ROLES:
        raise PermissionDenied(f"role {user.role!r} cannot work on referrals")
    if direction not in {"outgoing", "incoming"}:
        raise ValueError("direction is outgoing or incoming")
    column = (
        Referral.from_organisation_id if direction == "outgoing" else Referral.to_organisation_id
    )
    query = select(Referral).where(column == user.organisation_id)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        query = query.where(Referral.status == status)
    found = list(session.scalars(query.order_by(Referral.created_at, Referral.id)))
    if overdue:
        found = [r for r in found if is_overdue(r, now)]
    return found


def _answering(referral: Referral, user: User) -> bool:
    """The receiving organisation answers; for a service outside the helpline, the referrer."""
    if referral.to_organisation_id is not None:
        return user.organisation_id == referral.to_organisation_id
    return user.organisation_id == referral.from_organisation_id


def update_status(
    session: Session,
    user: User,
    referral_id: int,
    status: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """Accept, decline, complete or record no contact; the referring case hears of it."""
    if status not in STATUSES or status == SENT:
        raise ValueError(f"status must be one of {', '.join(STATUSES[1:])}")
    referral = get(session, user, referral_id)
    if not _answering(referral, user):
        raise PermissionDenied("the receiving organisation answers this referral")
    if status not in TRANSITIONS.get(referral.status, frozenset()):
        raise ReferralConflict(
            f"referral {referral.id} is {referral.status}; it cannot become {status}"
        )
    now = now or utcnow()
    referral.status = status
    referral.responded_by_user_id = user.id
    if note:
        referral.response_note = note
    if status == ACCEPTED:
        referral.responded_at = now
        referral.follow_up_by = now + COMPLETE_WITHIN
    elif status == DECLINED:
        referral.responded_at = now
        referral.closed_at = now
    else:
        referral.responded_at = referral.responded_at or now
        referral.closed_at = now
    referral.overdue_flagged_at = None
    # Each side's audit trail: the receiving one names the referral, never the other's case.
    own_case = user.organisation_id == referral.from_organisation_id
    cases.audit(
        session,
        user,
        f"referral_{status}",
        referral.case if own_case else None,
        referral_id=referral.id,
    )
    # The referring case hears of it even when it is handled by another organisation.
    cases.record_referral(
        session,
        user if user.organisation_id == referral.from_organisation_id else None,
        referral.case,
        status,
        referral_id=referral.id,
        to=_receiver_name(referral),
        by_organisation=user.organisation.name,
    )
    return referral


def sweep_overdue(session: Session, now: datetime | None = None) -> list[Referral]:
    """Flag, once, each referral whose answer or outcome is late, on its referring case."""
    now = now or utcnow()
    flagged = []
    for referral in session.scalars(
        select(Referral).where(
            Referral.status.in_(OPEN),
            Referral.overdue_flagged_at.is_(None),
            or_(Referral.respond_by < now, Referral.follow_up_by < now),
        )
    ):
        if not is_overdue(referral, now):
            continue
        referral.overdue_flagged_at = now
        cases.record_referral(
            session,
            None,
            referral.case,
            "overdue",
            referral_id=referral.id,
            to=_receiver_name(referral),
            waiting_for="answer" if referral.status == SENT else "outcome",
        )
        flagged.append(referral)
    return flagged


def shared_view(referral: Referral) -> dict[str, Any]:
    """What the receiving side may see: only what the person agreed to share."""
    case: Case = referral.case
    view: dict[str, Any] = {}
    if "language" in referral.shared:
        view["language"] = case.language
    if "country" in referral.shared:
        view["country"] = case.country
    if "channel" in referral.shared:
        view["channel"] = case.channel
    if "needs" in referral.shared:
        view["needs"] = list(referral.needs)
    if "indicators" in referral.shared:
        view["indicators"] = sorted({str(i.get("code")) for i in cases.indicators_of(case)})
    if "summary" in referral.shared:
        view["summary"] = referral.summary
    if "contact" in referral.shared:
        view["contact"] = case.conversation.contact.address
    return view
