"""The caseworker API under ``/api/v1``: bearer tokens, the caller's organisation only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from bot import attachments, auth, cases, closing, outbox
from bot.app_state import AppState
from bot.errors import (
    AlertNotFound,
    CaseConflict,
    CaseNotFound,
    DeliveryFailed,
    MediaUnavailable,
    PermissionDenied,
)
from bot.models import Alert, AuditEntry, Case, Conversation, Message, User

router = APIRouter(prefix="/api/v1", tags=["caseworker API"])
bearer = HTTPBearer(auto_error=False)
MAX_REPLY = 4096


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.helpline
    return state


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with state.db.session() as session:
        yield session


def current_user(
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    user = auth.user_for_token(session, credentials.credentials) if credentials else None
    if user is None:
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


SessionDep = Annotated[Session, Depends(get_session)]
UserDep = Annotated[User, Depends(current_user)]


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class ErrorOut(BaseModel):
    detail: str | dict[str, Any]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route gives."""
    meaning = {
        401: "no valid bearer token",
        403: "the caller's role does not allow this",
        404: "no such case in the caller's organisation",
        409: "the case is not in a state that allows this",
        422: "the request is malformed or names an unknown value",
    }
    return {code: {"model": ErrorOut, "description": meaning[code]} for code in codes}


class CaseSummary(BaseModel):
    id: int
    status: str
    priority: str
    risk: str
    reason: str
    language: str
    channel: str
    country: str | None
    assigned_to: str | None
    opened_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    deadline_at: datetime | None = Field(description="when the first response is due")
    first_response_at: datetime | None
    deadline_missed: bool
    rating: int | None = Field(description="the person's rating, 1 to 5, after closing")


class TranscriptMessage(BaseModel):
    id: int
    direction: str
    author: str
    text: str | None
    status: str
    # Why it failed: the provider's error code, explained.
    error: str | None = None
    created_at: datetime
    # Each opens at /cases/{id}/messages/{message id}/media/{n}.
    media: list[dict[str, Any]] = []


class CaseEventOut(BaseModel):
    id: int
    kind: str
    user: str | None
    text: str | None
    data: dict[str, Any]
    created_at: datetime


class CaseDetail(CaseSummary):
    consent: str | None
    indicators: list[dict[str, Any]]
    transcript: list[TranscriptMessage]
    events: list[CaseEventOut]


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY)


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class CloseRequest(BaseModel):
    outcome: str = Field(description="one of: " + ", ".join(cases.OUTCOMES))


class TransferRequest(BaseModel):
    """Exactly one of: a colleague, or another organisation (the person must have consented)."""

    user_id: int | None = None
    organisation_id: int | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> TransferRequest:
        if (self.user_id is None) == (self.organisation_id is None):
            raise ValueError("give either user_id or organisation_id")
        return self


class AlertOut(BaseModel):
    id: int
    kind: str
    case_id: int | None
    data: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None


class FiguresOut(BaseModel):
    """The organisation's queue now, and how it did over the last ``days`` (counts only)."""

    days: int
    waiting: dict[str, int] = Field(description="queued cases by priority")
    in_progress: int
    overdue: int = Field(description="open cases whose first response is overdue now")
    opened: int
    closed: int
    outcomes: dict[str, int]
    deadlines_missed: int
    median_first_response_minutes: float | None
    ratings: dict[int, int] = Field(description="how many people gave each rating, 1 to 5")
    average_rating: float | None


class ColleagueOut(BaseModel):
    id: int
    username: str
    role: str


class OrganisationOut(BaseModel):
    id: int
    name: str
    languages: list[str] = Field(description="empty: every language")
    countries: list[str] = Field(description="empty: every country")


class AuditOut(BaseModel):
    id: int
    user: str | None = Field(description="the user's name; null for the helpline itself")
    action: str
    data: dict[str, Any]
    created_at: datetime


class Queued(BaseModel):
    id: int
    status: str


class Created(BaseModel):
    id: int


PRIORITY_NAMES = cases.PRIORITY_NAMES


def summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "status": case.status,
        "priority": PRIORITY_NAMES[case.priority],
        "risk": case.risk,
        "reason": case.reason,
        "language": case.language,
        "channel": case.channel,
        "country": case.country,
        "assigned_to": case.assigned_user.username if case.assigned_user else None,
        "opened_at": case.opened_at,
        "claimed_at": case.claimed_at,
        "closed_at": case.closed_at,
        "outcome": case.outcome,
        "deadline_at": case.deadline_at,
        "first_response_at": case.first_response_at,
        "deadline_missed": case.deadline_missed_at is not None,
        "rating": case.rating,
    }


def _errors(error: Exception) -> HTTPException:
    if isinstance(error, CaseNotFound):
        return HTTPException(404, "no such case")
    if isinstance(error, AlertNotFound):
        return HTTPException(404, "no such alert")
    if isinstance(error, CaseConflict):
        return HTTPException(409, str(error))
    if isinstance(error, PermissionDenied):
        return HTTPException(403, str(error))
    if isinstance(error, ValueError):
        return HTTPException(422, str(error))
    raise error


@router.post("/auth/token", response_model=TokenResponse, responses=errors(401, 422))
def token(body: TokenRequest, session: SessionDep) -> dict[str, Any]:
    try:
        user = auth.authenticate(session, body.username, body.password)
    except auth.LoginFailed:
        session.commit()  # keep the failed-login count
        raise HTTPException(401, "invalid username or password") from None
    value, lifetime = auth.issue_token(session, user)
    # Commit before answering: FastAPI ends yield-dependencies only after the response is sent.
    session.commit()
    return {"access_token": value, "token_type": "bearer", "expires_in": lifetime}


@router.get("/cases", response_model=list[CaseSummary], responses=errors(401, 403, 422))
def list_cases(
    session: SessionDep, user: UserDep, status: str | None = None
) -> list[dict[str, Any]]:
    try:
        return [summary(c) for c in cases.list_cases(session, user, status)]
    except (PermissionDenied, ValueError) as error:
        raise _errors(error) from None


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=errors(401, 403, 404))
def get_case(case_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        case = cases.get_case(session, user, case_id)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    detail = summary(case) | {
        "consent": case.consent,
        "indicators": cases.indicators_of(case),
        "transcript": [
            {
                "id": m.id,
                "direction": m.direction,
                "author": m.author,
                "text": m.body,
                "status": m.status,
                "error": m.error,
                "created_at": m.created_at,
                "media": attachments.listed(m),
            }
            for m in cases.transcript(session, case)
        ],
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "user": _username(session, e.user_id),
                "text": e.text,
                "data": e.data,
                "created_at": e.created_at,
            }
            for e in case.events
        ],
    }
    session.commit()  # the view's audit entry
    return detail


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else None


@router.post(
    "/cases/{case_id}/claim", response_model=CaseSummary, responses=errors(401, 403, 404, 409)
)
def claim(case_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        case = cases.claim(session, user, case_id)
    except (CaseNotFound, CaseConflict, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return summary(case)


def _queued(
    session: Session, state: AppState, background: BackgroundTasks, message: Message
) -> dict[str, Any]:
    """Commit a caseworker's outbound message, then deliver it once the answer is out."""
    session.commit()
    background.add_task(outbox.deliver, state, message.id)
    return {"id": message.id, "status": "queued"}


@router.post(
    "/cases/{case_id}/messages",
    status_code=202,
    response_model=Queued,
    responses=errors(401, 403, 404, 409, 422),
)
def reply(
    case_id: int,
    body: ReplyRequest,
    session: SessionDep,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
    background: BackgroundTasks,
) -> dict[str, Any]:
    try:
        message = cases.add_caseworker_message(session, user, case_id, body.text)
    except (CaseNotFound, CaseConflict, PermissionDenied) as error:
        raise _errors(error) from None
    closed = outbox.reply_refused(state, session, message)
    if closed is not None:
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        refusal = _window_closed(
            case_id,
            state.channels[message.channel],
            conversation.last_inbound_at,
            state.settings.reply_window_hours,
            closed,
        )
        session.rollback()
        raise HTTPException(409, refusal)
    return _queued(session, state, background, message)


def _window_closed(
    case_id: int,
    channel: Any,
    last_inbound_at: datetime | None,
    hours: int,
    closed: DeliveryFailed,
) -> dict[str, Any]:
    """The 409 body: why, and whether the approved template may invite the person back."""
    template = channel.template()
    route = None
    advice = "only their next message reopens the conversation"
    # A template answers the provider's window only, never the helpline's own.
    if template and not outbox.reply_window_closed(channel, last_inbound_at, hours, template=True):
        route = f"/api/v1/cases/{case_id}/template"
        advice = "send the approved template to invite them to write again"
    elif channel.limits.reply_window_hours is not None and template is None:
        advice = f"no approved template is configured (TWILIO_WHATSAPP_TEMPLATE_SID): {advice}"
    return {
        "error": "reply_window_closed",
        "message": f"{closed.reason.removeprefix('refused: ')}; {advice}",
        "template_route": route,
    }


@router.post(
    "/cases/{case_id}/template",
    status_code=202,
    response_model=Queued,
    responses=errors(401, 403, 404, 409),
)
def send_template(
    case_id: int,
    session: SessionDep,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Send the channel's approved template, which invites the person to write again."""
    try:
        case = cases.get_case(session, user, case_id)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    channel = state.channels.get(case.channel)
    template = channel.template() if channel else None
    if template is None:
        raise HTTPException(409, f"{case.channel} has no approved template configured")
    closed = outbox.reply_window_closed(
        channel,
        case.conversation.last_inbound_at,
        state.settings.reply_window_hours,
        template=True,
    )
    if closed is not None:
        raise HTTPException(409, closed.reason.removeprefix("refused: "))
    try:
        message = cases.add_caseworker_message(
            session, user, case_id, f"{case.channel} template {template}"
        )
    except (CaseNotFound, CaseConflict, PermissionDenied) as error:
        raise _errors(error) from None
    message.payload = json.dumps({"template": template})
    return _queued(session, state, background, message)


@router.get(
    "/cases/{case_id}/messages/{message_id}/media/{n}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        404: {"description": "no such attachment, or the caller does not work on the case"},
        502: {"description": "the provider did not give the file"},
    },
)
async def attachment(
    case_id: int,
    message_id: int,
    n: int,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
) -> Response:
    """Attachment ``n`` of a person's message, fetched from the provider for the case's caseworker."""
    try:
        found = await asyncio.to_thread(attachments.find, state, user.id, case_id, message_id, n)
        fetched = await attachments.fetch(state, found)
    except attachments.AttachmentNotFound:
        raise HTTPException(404, "no such attachment") from None
    except MediaUnavailable as error:
        raise HTTPException(502, f"the attachment could not be fetched: {error}") from None
    return Response(
        fetched.content,
        media_type=fetched.content_type,
        headers=attachments.headers(found, fetched),
    )


@router.post(
    "/cases/{case_id}/notes",
    status_code=201,
    response_model=Created,
    responses=errors(401, 403, 404, 422),
)
def note(case_id: int, body: NoteRequest, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        event = cases.add_note(session, user, case_id, body.text)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return {"id": event.id}


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseSummary,
    responses=errors(401, 403, 404, 409, 422),
)
def close(
    case_id: int,
    body: CloseRequest,
    session: SessionDep,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
    background: BackgroundTasks,
) -> dict[str, Any]:
    try:
        closed = closing.close_case(state, session, user, case_id, body.outcome)
    except (CaseNotFound, CaseConflict, PermissionDenied, ValueError) as error:
        raise _errors(error) from None
    session.commit()
    background.add_task(outbox.deliver_all, state, closed.outbound)
    return summary(closed.case)


@router.post(
    "/cases/next",
    response_model=CaseSummary,
    responses={204: {"description": "no case is waiting"}, **errors(401, 403)},
)
def next_case(session: SessionDep, user: UserDep) -> Any:
    """Claim the most urgent waiting case of the caller's organisation."""
    try:
        case = cases.next_case(session, user)
    except PermissionDenied as error:
        raise _errors(error) from None
    session.commit()
    if case is None:
        return Response(status_code=204)
    return summary(case)


@router.post(
    "/cases/{case_id}/release",
    response_model=CaseSummary,
    responses=errors(401, 403, 404, 409),
)
def release(case_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Put a claimed case back in the queue (its caseworker, or a supervisor)."""
    try:
        case = cases.release(session, user, case_id)
    except (CaseNotFound, CaseConflict, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return summary(case)


@router.post(
    "/cases/{case_id}/transfer",
    response_model=CaseSummary,
    responses=errors(401, 403, 404, 409, 422),
)
def transfer(
    case_id: int,
    body: TransferRequest,
    session: SessionDep,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
) -> dict[str, Any]:
    """To a colleague (``user_id``) or, with the person's consent, another organisation.

    A caseworker may hand on only the case they hold; a supervisor any case of their
    organisation. 409 when the person has not consented to share their case.
    """
    try:
        case = cases.transfer(
            session,
            user,
            case_id,
            to_user_id=body.user_id,
            to_organisation_id=body.organisation_id,
            deadlines=state.settings.first_response_minutes,
        )
    except (CaseNotFound, CaseConflict, PermissionDenied, ValueError) as error:
        raise _errors(error) from None
    session.commit()
    return summary(case)


@router.post(
    "/cases/{case_id}/consent",
    response_model=CaseSummary,
    responses=errors(401, 403, 404, 409),
)
def consent(case_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Record that the person agreed, in the conversation, to share their case."""
    try:
        case = cases.record_consent(session, user, case_id)
    except (CaseNotFound, CaseConflict, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return summary(case)


@router.get(
    "/cases/{case_id}/audit",
    response_model=list[AuditOut],
    responses=errors(401, 403, 404),
)
def audit_trail(case_id: int, session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """Who viewed and did what on the case (supervisors)."""
    try:
        entries = cases.audit_trail(session, user, case_id)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return [_audit_out(session, entry) for entry in entries]


def _audit_out(session: Session, entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "user": _username(session, entry.user_id),
        "action": entry.action,
        "data": entry.data,
        "created_at": entry.created_at,
    }


@router.get("/alerts", response_model=list[AlertOut], responses=errors(401, 403))
def list_alerts(
    session: SessionDep, user: UserDep, include_acknowledged: bool = False
) -> list[dict[str, Any]]:
    """The organisation's alerts (missed first-response deadlines), newest first (supervisors)."""
    try:
        found = cases.alerts(session, user, include_acknowledged=include_acknowledged)
    except PermissionDenied as error:
        raise _errors(error) from None
    return [_alert_out(alert) for alert in found]


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses=errors(401, 403, 404),
)
def acknowledge_alert(alert_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        alert = cases.acknowledge_alert(session, user, alert_id)
    except (AlertNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return _alert_out(alert)


def _alert_out(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "case_id": alert.case_id,
        "data": alert.data,
        "created_at": alert.created_at,
        "acknowledged_at": alert.acknowledged_at,
    }


@router.get("/figures", response_model=FiguresOut, responses=errors(401, 403, 422))
def figures(
    session: SessionDep, user: UserDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """The caller's organisation's figures (supervisors)."""
    try:
        found = cases.figures(session, user, days=days)
    except PermissionDenied as error:
        raise _errors(error) from None
    return asdict(found)


@router.get("/colleagues", response_model=list[ColleagueOut], responses=errors(401, 403))
def colleagues(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """Who in the caller's organisation can take a case (the targets of a transfer)."""
    try:
        found = cases.colleagues(session, user)
    except PermissionDenied as error:
        raise _errors(error) from None
    return [{"id": u.id, "username": u.username, "role": u.role} for u in found]


@router.get("/organisations", response_model=list[OrganisationOut], responses=errors(401, 403))
def organisations(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """The other organisations a case can go to, with the person's consent."""
    try:
        found = cases.other_organisations(session, user)
    except PermissionDenied as error:
        raise _errors(error) from None
    return [
        {"id": o.id, "name": o.name, "languages": o.languages, "countries": o.countries}
        for o in found
    ]
