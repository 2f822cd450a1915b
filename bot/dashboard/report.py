"""The report for advocacy (supervisors and administrators) and the services directory (editors).

The report is that of ``helpline report``: aggregates only, small cells hidden. A
supervisor sees their organisation's cases; an administrator the whole helpline.
Editors and administrators keep the services directory current.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot import cases, report
from bot.dashboard.routes import PageError, PostDep, SessionDep, SignedDep, render, see_other
from bot.hsds import NEEDS, SERVICE_STATUSES, stable_id
from bot.languages import SUPPORTED
from bot.models import DirectoryLanguage, DirectoryPhone, DirectoryService, User, utcnow

router = APIRouter(prefix="/dashboard", include_in_schema=False)
DEFAULT_WEEKS = 12
LONGEST = timedelta(days=731)


def _report_scope(user: User) -> int | None:
    if user.role == cases.ADMIN:
        return None
    if user.role == cases.SUPERVISOR:
        return user.organisation_id
    raise PageError(403, "Only supervisors and administrators see the report.")


def _period(start: str | None, end: str | None) -> tuple[date, date]:
    today = utcnow().date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(weeks=DEFAULT_WEEKS)
    except ValueError:
        raise PageError(422, "Give the dates as YYYY-MM-DD.") from None
    if last < first or last - first > LONGEST:
        raise PageError(422, "The period must end after it starts and last at most two years.")
    return first, last


@router.get("/report", response_class=HTMLResponse)
def advocacy_report(
    request: Request,
    signed: SignedDep,
    session: SessionDep,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    scope = _report_scope(signed.user)
    first, last = _period(start, end)
    built = report.build(session, first, last, organisation_id=scope)
    images = report.charts(built)
    return render(
        request,
        "dashboard/report.html",
        signed,
        body=report.render_html(built, images, standalone=False),
        start=first,
        end=last,
    )


@router.get("/report/csv")
def advocacy_report_csv(
    signed: SignedDep, session: SessionDep, start: str | None = None, end: str | None = None
) -> Response:
    scope = _report_scope(signed.user)
    first, last = _period(start, end)
    built = report.build(session, first, last, organisation_id=scope)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in report.csv_files(built).items():
            archive.writestr(name, text)
    filename = f"helpline-figures-{first.isoformat()}-{last.isoformat()}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# The services directory.


def _require_editor(user: User) -> None:
    if user.role not in {cases.EDITOR, cases.ADMIN}:
        raise PageError(403, "Only editors and administrators edit the services directory.")


@router.get("/services", response_class=HTMLResponse)
def services(
    request: Request, signed: SignedDep, session: SessionDep, saved: int | None = None
) -> Response:
    _require_editor(signed.user)
    found = list(
        session.scalars(
            select(DirectoryService)
            .options(
                selectinload(DirectoryService.at_locations),
                selectinload(DirectoryService.languages),
            )
            .order_by(DirectoryService.name)
        )
    )
    notice = None
    if saved:
        edited = session.get(DirectoryService, saved)
        notice = f"{edited.name} saved." if edited else None
    return render(request, "dashboard/services.html", signed, services=found, notice=notice)


def _service(session: SessionDep, service_id: int) -> DirectoryService:
    service = session.get(DirectoryService, service_id)
    if service is None:
        raise PageError(404, "There is no such service.")
    return service


def _edit_page(
    request: Request,
    signed: SignedDep,
    service: DirectoryService,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "dashboard/service_edit.html",
        signed,
        status=status,
        service=service,
        needs=NEEDS,
        statuses=SERVICE_STATUSES,
        languages=SUPPORTED,
        error=error,
    )


@router.get("/services/{service_id}", response_class=HTMLResponse)
def service_page(
    request: Request, signed: SignedDep, session: SessionDep, service_id: int
) -> Response:
    _require_editor(signed.user)
    return _edit_page(request, signed, _service(session, service_id))


@router.post("/services/{service_id}")
def save_service(
    request: Request,
    signed: PostDep,
    session: SessionDep,
    service_id: int,
    name: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    status: Annotated[str, Form(max_length=30)] = "active",
    phone: Annotated[str, Form(max_length=50)] = "",
    assured_date: Annotated[str, Form(max_length=10)] = "",
    needs: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[list[str] | None, Form()] = None,
) -> Response:
    _require_editor(signed.user)
    service = _service(session, service_id)
    chosen_needs = [n for n in NEEDS if n in (needs or [])]
    chosen_languages = [code for code in SUPPORTED if code in (languages or [])]
    problem = None
    if not name.strip():
        problem = "Give the service a name."
    elif status not in SERVICE_STATUSES:
        problem = "Choose a status from the list."
    elif assured_date:
        try:
            date.fromisoformat(assured_date)
        except ValueError:
            problem = "Give the last-checked date as YYYY-MM-DD."
    if problem:
        return _edit_page(request, signed, service, error=problem, status=422)
    service.name = name.strip()
    service.description = description.strip() or None
    service.status = status
    service.needs = chosen_needs
    service.assured_date = assured_date or None
    kept = {x.code: x for x in service.languages}
    service.languages = [
        kept.get(code)
        or DirectoryLanguage(hsds_id=stable_id(service.hsds_id, "language", code), code=code)
        for code in chosen_languages
    ]
    if service.phones:
        if phone.strip():
            service.phones[0].number = phone.strip()
        else:
            service.phones.remove(service.phones[0])
    elif phone.strip():
        service.phones.append(
            DirectoryPhone(hsds_id=stable_id(service.hsds_id, "phone"), number=phone.strip())
        )
    session.commit()
    return see_other(f"/dashboard/services?saved={service.id}")
