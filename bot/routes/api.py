"""The caseworker API under ``/api/v1``: bearer tokens, the caller's organisation only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot import attachments, auth, cases, outbox
from bot.app_state import AppState
from bot.errors import CaseConflict, CaseNotFound, MediaUnavailable, PermissionDenied
from bot.models import Case, Conversation, Message, User
from channels.base import Outgoing

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


class TranscriptMessage(BaseModel):
    id: int
    direction: str
    author: str
    text: str | None
    status: str
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


PRIORITY_NAMES = {value: name for name, value in cases.PRIORITIES.items()}


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
    }


def _errors(error: Exception) -> HTTPException:
    if isinstance(error, CaseNotFound):
        return HTTPException(404, "no such case")
    if isinstance(error, CaseConflict):
        return HTTPException(409, str(error))
    if isinstance(error, PermissionDenied):
        return HTTPException(403, str(error))
    if isinstance(error, ValueError):
        return HTTPException(422, str(error))
    raise error


@router.post("/auth/token", response_model=TokenResponse)
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


@router.get("/cases", response_model=list[CaseSummary])
def list_cases(
    session: SessionDep, user: UserDep, status: str | None = None
) -> list[dict[str, Any]]:
    try:
        return [summary(c) for c in cases.list_cases(session, user, status)]
    except (PermissionDenied, ValueError) as error:
        raise _errors(error) from None


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(case_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        case = cases.get_case(session, user, case_id)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    return summary(case) | {
        "consent": case.consent,
        "indicators": cases.indicators_of(case),
        "transcript": [
            {
                "id": m.id,
                "direction": m.direction,
                "author": m.author,
                "text": m.body,
                "status": m.status,
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


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else None


@router.post("/cases/{case_id}/claim", response_model=CaseSummary)
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


@router.post("/cases/{case_id}/messages", status_code=202)
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
    channel = state.channels.get(message.channel)
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None
    closed = outbox.reply_window_closed(channel, conversation.last_inbound_at) if channel else None
    if channel and closed:
        session.rollback()
        template = channel.template()
        advice = (
            "send the approved template to invite them to write again"
            if template
            else "no approved template is configured (TWILIO_WHATSAPP_TEMPLATE_SID): "
            "only their next message reopens the conversation"
        )
        raise HTTPException(
            409,
            {
                "error": "reply_window_closed",
                "message": f"{closed.reason.removeprefix('refused: ')}; {advice}",
                "template_route": f"/api/v1/cases/{case_id}/template" if template else None,
            },
        )
    return _queued(session, state, background, message)


@router.post("/cases/{case_id}/template", status_code=202)
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


@router.post("/cases/{case_id}/notes", status_code=201)
def note(case_id: int, body: NoteRequest, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        event = cases.add_note(session, user, case_id, body.text)
    except (CaseNotFound, PermissionDenied) as error:
        raise _errors(error) from None
    session.commit()
    return {"id": event.id}


@router.post("/cases/{case_id}/close", response_model=CaseSummary)
def close(
    case_id: int,
    body: CloseRequest,
    session: SessionDep,
    user: UserDep,
    state: Annotated[AppState, Depends(get_state)],
    background: BackgroundTasks,
) -> dict[str, Any]:
    try:
        case = cases.close(session, user, case_id, body.outcome)
    except (CaseNotFound, CaseConflict, PermissionDenied, ValueError) as error:
        raise _errors(error) from None
    conversation = case.conversation
    rendered = state.nlg.render(
        "utter_case_closed",
        language=conversation.language,
        country=conversation.country,
        channel=case.channel,
    )
    channel = state.channels.get(case.channel)
    outgoing = Outgoing(rendered.text, (), rendered.language)
    parts = channel.render(outgoing) if channel else [outgoing]
    ids = outbox.queue_outgoing(session, conversation, parts, author="bot", case_id=case.id)
    session.commit()
    background.add_task(outbox.deliver_all, state, ids)
    return summary(case)
