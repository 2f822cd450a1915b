from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import cases, demo_directory, demo_history
from bot.app_state import AppState
from bot.models import DirectoryService, utcnow
from tests.helpers import factories

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def world(state: AppState) -> None:
    """The demo directory; a helpline organisation with every role, and another one."""
    with state.db.session() as session:
        demo_directory.seed(session)
        helpline = factories.organisation(session, "Helpline")
        other = factories.organisation(session, "Other", countries=["ZZ"])
        for role in cases.ROLES:
            factories.user(session, helpline, role, role=role)
        factories.user(session, other, "other-supervisor", role=cases.SUPERVISOR)


@pytest.fixture
def history(state: AppState, world: None) -> None:
    with state.db.session() as session:
        demo_history.seed(session)


def log_in(client: TestClient, username: str) -> None:
    page = client.get("/dashboard/login")
    found = CSRF.search(page.text)
    assert found is not None
    response = client.post(
        "/dashboard/login",
        data={"username": username, "password": factories.PASSWORD, "csrf_token": found[1]},
    )
    assert response.status_code == 303


def test_a_supervisor_sees_the_report_with_charts(client: TestClient, history: None) -> None:
    log_in(client, "supervisor")
    page = client.get("/dashboard/report")

    assert page.status_code == 200
    assert page.text.count('src="data:image/png;base64,iVBOR') == 9
    assert f'<span class="value">{demo_history.CASES}</span>' in page.text
    assert 'href="/dashboard/report"' in page.text


def test_another_organisations_supervisor_sees_only_theirs(client: TestClient, world: None) -> None:
    log_in(client, "other-supervisor")
    page = client.get("/dashboard/report")
    assert '<span class="value">0</span>' in page.text


def test_the_report_downloads_as_csv(client: TestClient, history: None) -> None:
    log_in(client, "admin")
    today = utcnow().date()
    start = (today - timedelta(weeks=demo_history.WEEKS)).isoformat()
    response = client.get(f"/dashboard/report/csv?start={start}&end={today.isoformat()}")

    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "cases_by_week.csv" in archive.namelist()
    assert archive.read("summary.csv").decode().splitlines()[3] == f"cases,{demo_history.CASES}"


@pytest.mark.parametrize(
    ("username", "url", "status"),
    [
        ("caseworker", "/dashboard/report", 403),
        ("editor", "/dashboard/report", 403),
        ("caseworker", "/dashboard/services", 403),
        ("supervisor", "/dashboard/services", 403),
        ("editor", "/dashboard/services", 200),
        ("admin", "/dashboard/services", 200),
    ],
    ids=[
        "caseworker-report",
        "editor-report",
        "caseworker-services",
        "supervisor-services",
        "editor-services",
        "admin-services",
    ],
)
def test_who_sees_what(
    client: TestClient, world: None, username: str, url: str, status: int
) -> None:
    log_in(client, username)
    assert client.get(url).status_code == status


def test_a_bad_period_is_explained(client: TestClient, world: None) -> None:
    log_in(client, "supervisor")
    page = client.get("/dashboard/report?start=2026-11-01&end=2026-10-01")
    assert page.status_code == 422
    assert "The period must end after it starts" in page.text


def test_an_editor_updates_a_service(client: TestClient, state: AppState, world: None) -> None:
    log_in(client, "editor")
    with state.db.session() as session:
        service = session.scalar(
            select(DirectoryService).where(DirectoryService.name == "[Demo] Cedar Legal Clinic")
        )
        assert service is not None
        service_id = service.id
    assert "[Demo] Cedar Legal Clinic" in client.get("/dashboard/services").text
    found = CSRF.search(client.get(f"/dashboard/services/{service_id}").text)
    assert found is not None
    csrf = found[1]

    saved = client.post(
        f"/dashboard/services/{service_id}",
        data={
            "csrf_token": csrf,
            "name": "[Demo] Cedar Legal Clinic",
            "description": "Free legal advice.",
            "status": "active",
            "phone": "+000 999 0000",
            "needs": ["legal", "shelter"],
            "languages": ["ar", "am"],
            "assured_date": "2026-11-20",
        },
    )
    bad = client.post(
        f"/dashboard/services/{service_id}",
        data={"csrf_token": csrf, "name": "x", "status": "open"},
    )
    forged = client.post(f"/dashboard/services/{service_id}", data={"name": "x"})

    assert (saved.status_code, saved.headers.get("location")) == (
        303,
        f"/dashboard/services?saved={service_id}",
    )
    assert (bad.status_code, forged.status_code) == (422, 403)
    with state.db.session() as session:
        service = session.get(DirectoryService, service_id)
        assert service is not None
        assert (
            service.needs,
            [x.code for x in service.languages],
            [p.number for p in service.phones],
            service.assured_date,
        ) == (["shelter", "legal"], ["ar", "am"], ["+000 999 0000"], "2026-11-20")
