"""The caseworker dashboard under ``/dashboard``: server-rendered pages and a live stream.

Every read and action on a case goes through ``bot.cases``: another organisation's
case is a 404 here as in the API. Every POST is checked for its CSRF token first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import auth, cases, closing, outbox
from bot.app_state import AppState
from bot.dashboard import security
from bot.dashboard.canned import canned_replies
from bot.dashboard.content_status import content_status
from bot.dashboard.render import environment
from bot.errors import (
    AlertNotFound,
    CaseConflict,
    CaseNotFound,
    HelplineError,
    PermissionDenied,
)
from bot.languages import SUPPORTED
from bot.models import Case, Organisation, User
from bot.routes.api import MAX_REPLY, get_session, get_state

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = environment()
MAX_NOTE = 10_000
# Pages hold people's words: not cached, not framed, scripts and styles only from here.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Quiet seconds after which the live stream sends a keep-alive and re-checks the session.
HEARTBEAT_SECONDS = 15.0


class PageError(Exception):
    """An error page (403, 404, 409) in the dashboard's own layout."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]


def signed_in(request: Request, state: StateDep, session: SessionDep) -> security.Signed:
    return security.signed_in(request, state.settings, session)


SignedDep = Annotated[security.Signed, Depends(signed_in)]


async def posted(request: Request, signed: SignedDep) -> security.Signed:
    """A signed-in user's POST whose CSRF token is right; 403 otherwise."""
    security.check_csrf(signed.csrf, await security.submitted_csrf(request))
    return signed


PostDep = Annotated[security.Signed, Depends(posted)]


def render(
    request: Request,
    template: str,
    signed: security.Signed | None = None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(template).render(
        request=request,
        user=signed.user if signed else None,
        csrf=signed.csrf if signed else "",
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _case(session: Session, user: User, case_id: int) -> Case:
    try:
        return cases.get_case(session, user, case_id)
    except CaseNotFound:
        raise PageError(404, "There is no such case.") from None
    except PermissionDenied:
        raise PageError(403, "Your role does not work on cases.") from None


# Log in and out.


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, session: SessionDep) -> Response:
    try:
        security.signed_in(request, state.settings, session)
        return see_other("/dashboard")
    except security.NotSignedIn:
        pass
    return _login_form(request, state)


def _login_form(
    request: Request, state: AppState, *, error: str | None = None, status: int = 200
) -> Response:
    token = security.new_login_csrf()
    response = render(request, "dashboard/login.html", status=status, login_csrf=token, error=error)
    security.set_cookie(state.settings, response, security.LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    security.check_csrf(request.cookies.get(security.LOGIN_CSRF_COOKIE, ""), csrf_token)
    try:
        user = auth.authenticate(session, username.strip(), password)
    except auth.LoginFailed:
        session.commit()  # keep the count of failed attempts
        return _login_form(
            request,
            state,
            error="Wrong username or password, or the account is locked for a while.",
            status=401,
        )
    token, lifetime = auth.issue_token(session, user)
    session.commit()
    response = see_other("/dashboard")
    security.set_cookie(state.settings, response, security.SESSION_COOKIE, token, lifetime)
    security.clear_cookie(state.settings, response, security.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(signed: PostDep, state: StateDep, session: SessionDep) -> Response:
    auth.revoke_token(session, signed.token)
    session.commit()
    response = see_other("/dashboard/login")
    security.clear_cookie(state.settings, response, security.SESSION_COOKIE)
    return response


# The queue.


def _open_cases(session: Session, user: User) -> list[Case]:
    return [c for c in cases.list_cases(session, user) if c.status != cases.CLOSED]


def _queue_context(session: Session, user: User) -> dict[str, Any]:
    open_cases = _open_cases(session, user)
    supervising = user.role in cases.SUPERVISING_ROLES
    return {
        "cases": open_cases,
        "alerts": cases.alerts(session, user) if supervising else [],
        "counts": {
            "queued": sum(c.status == cases.QUEUED for c in open_cases),
            "claimed": sum(c.status == cases.CLAIMED for c in open_cases),
            "mine": sum(c.assigned_user_id == user.id for c in open_cases),
        },
    }


@router.get("", response_class=HTMLResponse)
def home(request: Request, signed: SignedDep, session: SessionDep) -> Response:
    if signed.user.role == cases.EDITOR:
        return see_other("/dashboard/content")
    return render(request, "dashboard/queue.html", signed, **_queue_context(session, signed.user))


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(request: Request, signed: SignedDep, session: SessionDep) -> Response:
    if signed.user.role not in cases.CASE_ROLES:
        raise PageError(403, "Your role does not work on cases.")
    return render(
        request, "dashboard/_queue_rows.html", signed, **_queue_context(session, signed.user)
    )


@router.post("/next")
def next_case(request: Request, signed: PostDep, session: SessionDep) -> Response:
    try:
        case = cases.next_case(session, signed.user)
    except PermissionDenied:
        raise PageError(403, "Your role does not work on cases.") from None
    if case is None:
        session.commit()
        return render(
            request,
            "dashboard/queue.html",
            signed,
            notice="No case is waiting in the queue.",
            **_queue_context(session, signed.user),
        )
    session.commit()
    return see_other(f"/dashboard/cases/{case.id}")


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, signed: PostDep, session: SessionDep) -> Response:
    try:
        cases.acknowledge_alert(session, signed.user, alert_id)
    except AlertNotFound:
        raise PageError(404, "There is no such alert.") from None
    except PermissionDenied:
        raise PageError(403, "Only supervisors acknowledge alerts.") from None
    session.commit()
    return see_other("/dashboard#alerts")


# The live stream.


def _live_user(state: AppState, request: Request) -> tuple[int, int] | None:
    """(user id, organisation id) of the request's session, or None."""
    with state.db.session() as session:
        try:
            signed = security.signed_in(request, state.settings, session)
        except security.NotSignedIn:
            return None
        if signed.user.role not in cases.CASE_ROLES:
            return None
        return signed.user.id, signed.user.organisation_id


@router.get("/events")
async def events(request: Request, state: StateDep) -> Response:
    """Server-sent events: the changes to the user's organisation's cases, as hints to reload."""
    found = await asyncio.to_thread(_live_user, state, request)
    if found is None:
        return Response("sign in first", status_code=401, media_type="text/plain")
    _user_id, organisation_id = found

    async def stream() -> AsyncIterator[str]:
        # Subscribed before the first line: a change made after it is read is never missed.
        async with state.live.subscription(organisation_id) as subscription:
            yield "retry: 3000\n\n"
            while True:
                event = await subscription.next(HEARTBEAT_SECONDS)
                if event is None:
                    # A log-out or an expired session ends the stream within a heartbeat.
                    if await asyncio.to_thread(_live_user, state, request) is None:
                        return
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: case\ndata: {json.dumps(event)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# The case page.


def _case_context(session: Session, state: AppState, user: User, case: Case) -> dict[str, Any]:
    indicators = cases.indicators_of(case)
    evidence = [str(i.get("evidence") or "") for i in indicators]
    events = list(case.events)
    colleagues = cases.colleagues(session, user)
    authors = {u.id: u.username for u in colleagues}
    return {
        "case": case,
        "transcript": cases.transcript(session, case),
        "indicators": indicators,
        "evidence": evidence,
        "notes": [e for e in events if e.kind == "note"],
        "events": events,
        "authors": authors,
        "canned": canned_replies(state.catalogs, case.language),
        "outcomes": cases.OUTCOMES,
        "colleagues": [u for u in colleagues if u.id != case.assigned_user_id],
        "organisations": cases.other_organisations(session, user),
        "working": case.status == cases.CLAIMED
        and (case.assigned_user_id == user.id or user.role in {cases.SUPERVISOR, cases.ADMIN}),
        "max_reply": MAX_REPLY,
        "max_note": MAX_NOTE,
    }


def _case_page(
    request: Request,
    signed: security.Signed,
    session: Session,
    state: AppState,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    draft: str = "",
) -> HTMLResponse:
    case = _case(session, signed.user, case_id)
    context = _case_context(session, state, signed.user, case)
    return render(
        request, "dashboard/case.html", signed, status=status, error=error, draft=draft, **context
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, case_id: int, signed: SignedDep, session: SessionDep, state: StateDep
) -> Response:
    response = _case_page(request, signed, session, state, case_id)
    session.commit()  # the audit trail of the view
    return response


@router.get("/cases/{case_id}/transcript", response_class=HTMLResponse)
def transcript(request: Request, case_id: int, signed: SignedDep, session: SessionDep) -> Response:
    case = _case(session, signed.user, case_id)
    evidence = [str(i.get("evidence") or "") for i in cases.indicators_of(case)]
    response = render(
        request,
        "dashboard/_transcript.html",
        signed,
        case=case,
        transcript=cases.transcript(session, case),
        evidence=evidence,
    )
    session.commit()
    return response


def _act(
    request: Request,
    signed: security.Signed,
    session: Session,
    state: AppState,
    case_id: int,
    action: Any,
    then: str | None = None,
    draft: str = "",
) -> Response:
    """Run a case action; a conflict or a bad value shows the case page with the reason.

    ``draft``: a reply that could not go, kept in the reply box rather than lost.
    """
    try:
        action()
    except CaseNotFound:
        raise PageError(404, "There is no such case.") from None
    except PermissionDenied as denied:
        raise PageError(403, str(denied)) from None
    except (CaseConflict, ValueError, HelplineError) as error:
        session.rollback()
        return _case_page(
            request, signed, session, state, case_id, error=str(error), status=409, draft=draft
        )
    session.commit()
    return see_other(then or f"/dashboard/cases/{case_id}")


@router.post("/cases/{case_id}/claim")
def claim(
    request: Request, case_id: int, signed: PostDep, session: SessionDep, state: StateDep
) -> Response:
    return _act(
        request, signed, session, state, case_id, lambda: cases.claim(session, signed.user, case_id)
    )


@router.post("/cases/{case_id}/release")
def release(
    request: Request, case_id: int, signed: PostDep, session: SessionDep, state: StateDep
) -> Response:
    return _act(
        request,
        signed,
        session,
        state,
        case_id,
        lambda: cases.release(session, signed.user, case_id),
        then="/dashboard",
    )


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request,
    case_id: int,
    signed: PostDep,
    session: SessionDep,
    state: StateDep,
    background: BackgroundTasks,
    text: Annotated[str, Form(max_length=MAX_REPLY)] = "",
) -> Response:
    if not text.strip():
        return _case_page(
            request, signed, session, state, case_id, error="Write a reply first.", status=422
        )
    sent: list[int] = []

    def send() -> None:
        message = cases.add_caseworker_message(session, signed.user, case_id, text.strip())
        closed = outbox.reply_refused(state, session, message)
        if closed is not None:  # shown on the case page, the reply left in its box
            raise CaseConflict(f"Not sent: {closed.reason.removeprefix('refused: ')}.")
        sent.append(message.id)

    response = _act(request, signed, session, state, case_id, send, draft=text)
    for message_id in sent:
        background.add_task(outbox.deliver, state, message_id)
    return response


@router.post("/cases/{case_id}/notes")
def note(
    request: Request,
    case_id: int,
    signed: PostDep,
    session: SessionDep,
    state: StateDep,
    text: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    if not text.strip():
        return _case_page(
            request, signed, session, state, case_id, error="Write a note first.", status=422
        )
    return _act(
        request,
        signed,
        session,
        state,
        case_id,
        lambda: cases.add_note(session, signed.user, case_id, text.strip()),
    )


@router.post("/cases/{case_id}/transfer")
def transfer(
    request: Request,
    case_id: int,
    signed: PostDep,
    session: SessionDep,
    state: StateDep,
    target: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    kind, _, value = target.partition(":")
    if kind not in {"user", "organisation"} or not value.isdigit():
        return _case_page(
            request,
            signed,
            session,
            state,
            case_id,
            error="Choose a colleague or an organisation to transfer to.",
            status=422,
        )
    to_user_id = int(value) if kind == "user" else None
    to_organisation_id = int(value) if kind == "organisation" else None
    return _act(
        request,
        signed,
        session,
        state,
        case_id,
        lambda: cases.transfer(
            session,
            signed.user,
            case_id,
            to_user_id=to_user_id,
            to_organisation_id=to_organisation_id,
            deadlines=state.settings.first_response_minutes,
        ),
        then="/dashboard",
    )


@router.post("/cases/{case_id}/close")
def close(
    request: Request,
    case_id: int,
    signed: PostDep,
    session: SessionDep,
    state: StateDep,
    background: BackgroundTasks,
    outcome: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    queued: list[int] = []

    def close_case() -> None:
        queued.extend(closing.close_case(state, session, signed.user, case_id, outcome).outbound)

    response = _act(request, signed, session, state, case_id, close_case, then="/dashboard")
    if queued:
        background.add_task(outbox.deliver_all, state, queued)
    return response


# Figures (supervisors).


@router.get("/figures", response_class=HTMLResponse)
def figures(request: Request, signed: SignedDep, session: SessionDep, days: int = 30) -> Response:
    try:
        found = cases.figures(session, signed.user, days=min(max(days, 1), 366))
    except PermissionDenied:
        raise PageError(403, "Only supervisors see the figures.") from None
    return render(request, "dashboard/figures.html", signed, figures=found)


# Content (editors) and administration (admins).


@router.get("/content", response_class=HTMLResponse)
def content(request: Request, signed: SignedDep, state: StateDep) -> Response:
    if signed.user.role not in {cases.EDITOR, cases.ADMIN}:
        raise PageError(403, "Only editors and administrators see the content status.")
    return render(
        request,
        "dashboard/content.html",
        signed,
        languages=SUPPORTED,
        topics=content_status(state.nlg.responses(), state.catalogs),
    )


def _admin_page(
    request: Request,
    signed: security.Signed,
    session: Session,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    if signed.user.role != cases.ADMIN:
        raise PageError(403, "Only administrators manage organisations and users.")
    return render(
        request,
        "dashboard/admin.html",
        signed,
        status=status,
        error=error,
        notice=notice,
        organisations=list(session.scalars(select(Organisation).order_by(Organisation.name))),
        users=list(session.scalars(select(User).order_by(User.organisation_id, User.username))),
        roles=cases.ROLES,
        min_password=auth.MIN_PASSWORD_LENGTH,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin(
    request: Request, signed: SignedDep, session: SessionDep, created: int | None = None
) -> Response:
    new = session.get(User, created) if created else None
    notice = f"User {new.username} created." if new else None
    return _admin_page(request, signed, session, notice=notice)


@router.post("/admin/users")
def create_user(
    request: Request,
    signed: PostDep,
    session: SessionDep,
    organisation: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=150)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    if signed.user.role != cases.ADMIN:
        raise PageError(403, "Only administrators manage organisations and users.")
    if not username.strip():
        return _admin_page(request, signed, session, error="Give a username.", status=422)
    try:
        user = auth.create_user(
            session,
            organisation=organisation,
            username=username.strip(),
            role=role,
            password=password,
        )
    except HelplineError as error:
        session.rollback()
        return _admin_page(request, signed, session, error=str(error), status=422)
    session.commit()
    return see_other(f"/dashboard/admin?created={user.id}#users")
