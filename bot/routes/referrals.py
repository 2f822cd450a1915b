"""Referrals and the services directory in the caseworker API (``/api/v1``).

Another organisation's referral is "not found", like another organisation's case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from bot import directory, referrals
from bot.errors import (
    CaseConflict,
    CaseNotFound,
    PermissionDenied,
    ReferralConflict,
    ReferralNotFound,
)
from bot.models import Referral
from bot.routes.api import SessionDep, UserDep
from bot.routes.api import _errors as api_errors

router = APIRouter(prefix="/api/v1", tags=["referrals"])


class ReferralRequest(BaseModel):
    to_service_id: int | None = None
    to_organisation_id: int | None = None
    needs: list[str] = Field(default_factory=list, description=", ".join(referrals.NEEDS))
    consent_method: str = Field(
        description="how the person agreed: " + ", ".join(referrals.CONSENT_METHODS)
    )
    shared: list[str] = Field(
        default_factory=list,
        description="what the person agreed to share: " + ", ".join(referrals.SHAREABLE),
    )
    summary: str | None = Field(default=None, max_length=4000)
    respond_within_days: int = Field(default=3, ge=1, le=60)


class StatusRequest(BaseModel):
    note: str | None = Field(default=None, max_length=4000)


class ReferralOut(BaseModel):
    id: int
    direction: Literal["outgoing", "incoming"]
    status: str
    overdue: bool
    case_id: int | None
    from_organisation: str
    to_organisation: str | None
    to_service: str | None
    needs: list[str]
    consent_method: str
    consent_at: datetime
    shared: list[str]
    shared_details: dict[str, Any]
    response_note: str | None
    created_at: datetime
    respond_by: datetime
    follow_up_by: datetime | None
    responded_at: datetime | None
    closed_at: datetime | None


class ServiceOut(BaseModel):
    id: int
    name: str
    organization: str
    city: str | None
    phone: str | None
    needs: list[str]
    languages: list[str]
    speaks_language: bool
    demo: bool


def out(referral: Referral, organisation_id: int) -> dict[str, Any]:
    outgoing = referral.from_organisation_id == organisation_id
    return {
        "id": referral.id,
        "direction": "outgoing" if outgoing else "incoming",
        "status": referral.status,
        "overdue": referrals.is_overdue(referral),
        # The case and the caseworker's own summary stay with the referring organisation.
        "case_id": referral.case_id if outgoing else None,
        "from_organisation": referral.from_organisation.name,
        "to_organisation": referral.to_organisation.name if referral.to_organisation else None,
        "to_service": referral.to_service.name if referral.to_service else None,
        "needs": list(referral.needs),
        "consent_method": referral.consent_method,
        "consent_at": referral.consent_at,
        "shared": list(referral.shared),
        "shared_details": referrals.shared_view(referral),
        "response_note": referral.response_note,
        "created_at": referral.created_at,
        "respond_by": referral.respond_by,
        "follow_up_by": referral.follow_up_by,
        "responded_at": referral.responded_at,
        "closed_at": referral.closed_at,
    }


def _errors(error: Exception) -> HTTPException:
    if isinstance(error, ReferralNotFound):
        return HTTPException(404, "no such referral")
    if isinstance(error, ReferralConflict):
        return HTTPException(409, str(error))
    return api_errors(error)


HANDLED = (
    CaseNotFound,
    ReferralNotFound,
    CaseConflict,
    ReferralConflict,
    PermissionDenied,
    ValueError,
)


@router.post("/cases/{case_id}/referrals", response_model=ReferralOut, status_code=201)
def create_referral(
    case_id: int, body: ReferralRequest, session: SessionDep, user: UserDep
) -> dict[str, Any]:
    try:
        referral = referrals.create(
            session,
            user,
            case_id,
            referrals.Request(
                to_service_id=body.to_service_id,
                to_organisation_id=body.to_organisation_id,
                needs=tuple(body.needs),
                consent_method=body.consent_method,
                shared=tuple(body.shared),
                summary=body.summary,
                respond_within=timedelta(days=body.respond_within_days),
            ),
        )
    except HANDLED as error:
        raise _errors(error) from None
    session.commit()
    return out(referral, user.organisation_id)


@router.get("/referrals", response_model=list[ReferralOut])
def list_referrals(
    session: SessionDep,
    user: UserDep,
    direction: Literal["outgoing", "incoming"] = "outgoing",
    status: str | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    try:
        found = referrals.list_referrals(
            session, user, direction=direction, status=status, overdue=overdue
        )
    except HANDLED as error:
        raise _errors(error) from None
    return [out(r, user.organisation_id) for r in found]


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def get_referral(referral_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        referral = referrals.get(session, user, referral_id)
    except HANDLED as error:
        raise _errors(error) from None
    return out(referral, user.organisation_id)


ACTIONS = {
    "accept": referrals.ACCEPTED,
    "decline": referrals.DECLINED,
    "complete": referrals.COMPLETED,
    "no-contact": referrals.NO_CONTACT,
}


@router.post("/referrals/{referral_id}/{action}", response_model=ReferralOut)
def answer_referral(
    referral_id: int,
    action: Literal["accept", "decline", "complete", "no-contact"],
    session: SessionDep,
    user: UserDep,
    body: StatusRequest | None = None,
) -> dict[str, Any]:
    try:
        referral = referrals.update_status(
            session, user, referral_id, ACTIONS[action], body.note if body else None
        )
    except HANDLED as error:
        raise _errors(error) from None
    session.commit()
    return out(referral, user.organisation_id)


@router.get("/services", response_model=list[ServiceOut])
def search_services(
    session: SessionDep,
    user: UserDep,
    country: str = Query(min_length=2, max_length=2),
    need: str | None = None,
    language: str = "en",
    city: str | None = None,
) -> list[dict[str, Any]]:
    """The directory, for a caseworker choosing where to refer someone."""
    if need is not None and need not in referrals.NEEDS:
        raise HTTPException(422, f"need is one of {', '.join(referrals.NEEDS)}")
    found = directory.search(
        session, country=country.upper(), language=language, need=need, city=city, limit=50
    )
    return [
        {
            "id": s.id,
            "name": s.name,
            "organization": s.organization.name,
            "city": city_name,
            "phone": s.phones[0].number if s.phones else None,
            "needs": list(s.needs),
            "languages": [x.code for x in s.languages],
            "speaks_language": language in {x.code for x in s.languages},
            "demo": s.demo,
        }
        for s, city_name in found
    ]
