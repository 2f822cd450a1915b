from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import auth, cases
from bot.app_state import AppState
from bot.config import Settings
from bot.dashboard import routes, security
from bot.models import ApiToken, Case, CaseEvent, Message, User, utcnow
from tests.helpers import factories
from tests.helpers.app import make_app, serving

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser: redirects are part of what the dashboard answers, so not followed."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


@dataclass
class World:
    """Mine (English, every role) and Theirs (Arabic, one caseworker), a case each."""

    mine_case: int
    theirs_case: int
    theirs_id: int


@pytest.fixture
def world(state: AppState) -> World:
    with state.db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        for role in cases.ROLES:
            factories.user(session, mine, role, role=role)
        factories.user(session, mine, "colleague")
        factories.user(session, theirs, "carol")
        mine_case = factories.case(session, language="en")
        factories.inbound(session, mine_case.conversation, "hello, I need help")
        theirs_case = factories.case(session, language="ar")
        return World(mine_case.id, theirs_case.id, theirs.id)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = factories.PASSWORD) -> httpx.Response:
    token = csrf_of(client, "/dashboard/login")
    return client.post(
        "/dashboard/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def signed_in(client: TestClient, username: str) -> str:
    """Log in and return the CSRF token of the session's forms."""
    assert log_in(client, username).status_code == 303
    return csrf_of(client, "/dashboard/content" if username == "editor" else "/dashboard")


def status_of(state: AppState, case_id: int) -> str:
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status


# Log in and out.


def test_log_in_sets_a_safe_session_cookie(client: TestClient, world: World) -> None:
    response = log_in(client, "caseworker")

    assert (response.status_code, response.headers["location"]) == (303, "/dashboard")
    cookie = next(
        c
        for c in response.headers.get_list("set-cookie")
        if c.startswith(security.SESSION_COOKIE + "=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes
    assert client.get("/dashboard").status_code == 200


def test_the_cookie_is_secure_behind_https(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    settings = Settings.load(
        environ | {"PUBLIC_BASE_URL": "https://helpline.example"}, env_file=None
    )
    app = make_app(settings, monkeypatch)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = log_in(client, "caseworker")
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(security.SESSION_COOKIE)
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_pages_need_a_session(client: TestClient, world: World) -> None:
    for url in ("/dashboard", f"/dashboard/cases/{world.mine_case}", "/dashboard/admin"):
        response = client.get(url)
        assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")
    assert client.get("/dashboard/events").status_code == 401


def test_a_wrong_password_is_refused_without_saying_which_part(
    client: TestClient, world: World
) -> None:
    wrong = log_in(client, "caseworker", "not the password")
    unknown = log_in(client, "nobody", "not the password")

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert "Wrong username or password" in wrong.text
    assert security.SESSION_COOKIE not in client.cookies


def test_repeated_failures_lock_the_account(client: TestClient, world: World) -> None:
    for _attempt in range(auth.MAX_FAILED_LOGINS):
        assert log_in(client, "caseworker", "guess").status_code == 401

    assert log_in(client, "caseworker").status_code == 401
    assert client.get("/dashboard").status_code == 303


def test_log_in_without_its_csrf_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login",
        data={"username": "caseworker", "password": factories.PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 403
    assert security.SESSION_COOKIE not in client.cookies


def test_log_out_ends_the_session_on_the_server(client: TestClient, world: World) -> None:
    token = signed_in(client, "caseworker")
    cookie = client.cookies[security.SESSION_COOKIE]

    response = client.post("/dashboard/logout", data={"csrf_token": token})

    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")
    client.cookies.set(security.SESSION_COOKIE, cookie, path="/dashboard")
    assert client.get("/dashboard").status_code == 303


def test_an_expired_session_is_signed_out(
    client: TestClient, world: World, state: AppState
) -> None:
    signed_in(client, "caseworker")
    with state.db.session() as session:
        for token in session.scalars(select(ApiToken)):
            token.expires_at = utcnow()

    assert client.get("/dashboard").status_code == 303


# CSRF on every form.


def forms(world: World) -> list[tuple[str, dict[str, str]]]:
    case = world.mine_case
    return [
        ("/dashboard/logout", {}),
        ("/dashboard/next", {}),
        (f"/dashboard/cases/{case}/claim", {}),
        (f"/dashboard/cases/{case}/release", {}),
        (f"/dashboard/cases/{case}/reply", {"text": "hello"}),
        (f"/dashboard/cases/{case}/notes", {"text": "a note"}),
        (f"/dashboard/cases/{case}/transfer", {"target": "organisation:1"}),
        (f"/dashboard/cases/{case}/close", {"outcome": "information_given"}),
        ("/dashboard/admin/users", {"organisation": "Mine", "username": "x", "role": "editor"}),
        ("/dashboard/alerts/1/acknowledge", {}),
    ]


FORM_IDS = [
    "logout",
    "next",
    "claim",
    "release",
    "reply",
    "note",
    "transfer",
    "close",
    "user",
    "acknowledge",
]


@pytest.mark.parametrize("index", range(len(FORM_IDS)), ids=FORM_IDS)
@pytest.mark.parametrize("token", ["", "forged"], ids=["missing", "wrong"])
def test_every_form_rejects_a_missing_or_wrong_csrf_token(
    client: TestClient, world: World, state: AppState, index: int, token: str
) -> None:
    signed_in(client, "admin")
    url, data = forms(world)[index]

    response = client.post(url, data=data | ({"csrf_token": token} if token else {}))

    assert response.status_code == 403
    assert status_of(state, world.mine_case) == cases.QUEUED
    assert client.get("/dashboard").status_code == 200  # still signed in


def test_a_fetch_may_send_the_token_as_a_header(
    client: TestClient, world: World, state: AppState
) -> None:
    token = signed_in(client, "caseworker")
    response = client.post(
        f"/dashboard/cases/{world.mine_case}/claim", headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303
    assert status_of(state, world.mine_case) == cases.CLAIMED


# Roles and organisations.

PAGES = [
    "/dashboard",
    "/dashboard/queue/rows",
    "/dashboard/content",
    "/dashboard/admin",
    "/dashboard/figures",
    "case",
]
EXPECTED = {
    "caseworker": [200, 200, 403, 403, 403, 200],
    "supervisor": [200, 200, 403, 403, 200, 200],
    "editor": [303, 403, 200, 403, 403, 403],
    "admin": [200, 200, 200, 200, 200, 200],
}


@pytest.mark.parametrize("role", list(EXPECTED), ids=list(EXPECTED))
def test_each_role_sees_the_pages_that_suit_it(client: TestClient, world: World, role: str) -> None:
    signed_in(client, role)
    urls = [p if p != "case" else f"/dashboard/cases/{world.mine_case}" for p in PAGES]

    assert [client.get(url).status_code for url in urls] == EXPECTED[role]


def test_the_editor_lands_on_the_content_page(client: TestClient, world: World) -> None:
    signed_in(client, "editor")
    assert client.get("/dashboard").headers["location"] == "/dashboard/content"
    page = client.get("/dashboard/content").text
    assert "Rights topics and translations" in page
    assert "wages" in page


def test_another_organisations_case_is_not_found_through_every_route(
    client: TestClient, world: World, state: AppState
) -> None:
    token = signed_in(client, "supervisor")
    other = world.theirs_case

    assert client.get(f"/dashboard/cases/{other}").status_code == 404
    assert client.get(f"/dashboard/cases/{other}/transcript").status_code == 404
    for action, data in [
        ("claim", {}),
        ("release", {}),
        ("reply", {"text": "hello"}),
        ("notes", {"text": "note"}),
        ("transfer", {"target": "organisation:1"}),
        ("close", {"outcome": "information_given"}),
    ]:
        response = client.post(
            f"/dashboard/cases/{other}/{action}", data=data | {"csrf_token": token}
        )
        assert response.status_code == 404, action
    assert f"#{other}" not in client.get("/dashboard").text
    assert status_of(state, other) == cases.QUEUED


# The queue and the case page.


def test_the_queue_shows_the_most_urgent_first(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        urgent = factories.case(session, language="en", priority="emergency").id
        medium = factories.case(session, language="en", priority="medium").id
    signed_in(client, "caseworker")

    rows = client.get("/dashboard/queue/rows").text
    order = [int(n) for n in re.findall(r'data-case-id="(\d+)"', rows)]

    assert order == [urgent, medium, world.mine_case]
    assert "emergency" in rows
    # The counts above the table come with the rows, for the live refresh to show.
    assert 'data-counts="3 waiting · 0 claimed · 0 yours"' in rows


def test_next_case_hands_over_the_most_urgent_waiting_case(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        urgent = factories.case(session, language="en", priority="high").id
    token = signed_in(client, "caseworker")

    response = client.post("/dashboard/next", data={"csrf_token": token})

    assert response.headers["location"] == f"/dashboard/cases/{urgent}"
    assert status_of(state, urgent) == cases.CLAIMED


def test_a_reply_past_the_window_is_refused_and_kept_in_the_box(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        case = session.get(Case, world.mine_case)
        assert case is not None
        case.conversation.last_inbound_at = utcnow() - timedelta(hours=100)
    token = signed_in(client, "caseworker")
    client.post(f"/dashboard/cases/{world.mine_case}/claim", data={"csrf_token": token})

    refused = client.post(
        f"/dashboard/cases/{world.mine_case}/reply",
        data={"csrf_token": token, "text": "Are you <safe>?"},
    )

    assert refused.status_code == 409
    assert "Not sent: more than 72 hours since the person last wrote" in refused.text
    assert ">Are you &lt;safe&gt;?</textarea>" in refused.text
    with state.db.session() as session:
        assert session.scalars(select(Message).where(Message.direction == "out")).all() == []


def test_a_case_from_claim_to_close(client: TestClient, world: World, state: AppState) -> None:
    token = signed_in(client, "caseworker")
    case = world.mine_case

    assert (
        client.post(f"/dashboard/cases/{case}/claim", data={"csrf_token": token}).status_code == 303
    )
    page = client.get(f"/dashboard/cases/{case}").text
    assert 'id="reply-form"' in page
    sent = client.post(
        f"/dashboard/cases/{case}/reply", data={"csrf_token": token, "text": "I can help you."}
    )
    assert sent.status_code == 303
    noted = client.post(
        f"/dashboard/cases/{case}/notes", data={"csrf_token": token, "text": "Called back."}
    )
    assert noted.status_code == 303
    closed = client.post(
        f"/dashboard/cases/{case}/close",
        data={"csrf_token": token, "outcome": "information_given"},
    )

    assert (closed.status_code, closed.headers["location"]) == (303, "/dashboard")
    with state.db.session() as session:
        row = session.get(Case, case)
        assert row is not None
        outbound = session.scalars(
            select(Message).where(Message.case_id == case, Message.direction == "out")
        ).all()
        notes = session.scalars(
            select(CaseEvent.text).where(CaseEvent.case_id == case, CaseEvent.kind == "note")
        ).all()
        assert (row.status, row.outcome) == (cases.CLOSED, "information_given")
        assert [(m.author, m.body) for m in outbound][:1] == [("caseworker", "I can help you.")]
        # The closing message and the rating question.
        assert [m.author for m in outbound][1:] == ["bot", "bot"]
        assert notes == ["Called back."]


def test_a_second_claim_shows_the_conflict(
    client: TestClient, app: FastAPI, world: World, state: AppState
) -> None:
    token = signed_in(client, "caseworker")
    with TestClient(app, follow_redirects=False) as colleague:
        other = signed_in(colleague, "colleague")
        assert (
            colleague.post(
                f"/dashboard/cases/{world.mine_case}/claim", data={"csrf_token": other}
            ).status_code
            == 303
        )

    response = client.post(f"/dashboard/cases/{world.mine_case}/claim", data={"csrf_token": token})

    assert response.status_code == 409
    assert 'role="alert"' in response.text


def test_release_and_transfer_to_a_colleague(
    client: TestClient, world: World, state: AppState
) -> None:
    token = signed_in(client, "caseworker")
    case = world.mine_case
    client.post(f"/dashboard/cases/{case}/claim", data={"csrf_token": token})

    released = client.post(f"/dashboard/cases/{case}/release", data={"csrf_token": token})
    assert released.status_code == 303
    assert status_of(state, case) == cases.QUEUED

    client.post(f"/dashboard/cases/{case}/claim", data={"csrf_token": token})
    with state.db.session() as session:
        colleague = session.scalar(select(User.id).where(User.username == "colleague"))
    moved = client.post(
        f"/dashboard/cases/{case}/transfer",
        data={"csrf_token": token, "target": f"user:{colleague}"},
    )
    assert moved.status_code == 303
    with state.db.session() as session:
        row = session.get(Case, case)
        assert row is not None
        assert row.assigned_user_id == colleague


def test_an_arabic_case_reads_right_to_left_with_its_evidence_marked(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        case = factories.case(session, language="ar")
        factories.inbound(session, case.conversation, "صاحب العمل أخذ جواز سفري منذ شهر")
        cases.flag(
            session,
            case,
            "high",
            [
                {
                    "code": "retention_of_identity_documents",
                    "severity": "strong",
                    "evidence": "أخذ جواز سفري",
                }
            ],
        )
        case_id = case.id
    token = signed_in(client, "carol")
    client.post(f"/dashboard/cases/{case_id}/claim", data={"csrf_token": token})

    page = client.get(f"/dashboard/cases/{case_id}").text

    assert (
        '<p class="text" dir="auto" lang="ar">صاحب العمل '
        '<mark class="evidence">أخذ جواز سفري</mark> منذ شهر</p>'
    ) in page
    assert "retention of identity documents" in page
    # The canned replies are offered in Arabic.
    assert "هل أنت في أمان في المكان الذي أنت فيه الآن؟" in page


# What people wrote is shown escaped everywhere.


def test_script_in_names_messages_and_notes_is_shown_as_text(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        org = factories.organisation(session, f"Org {SCRIPT}", countries=["LB"])
        factories.user(session, org, f"u{SCRIPT}", role=cases.ADMIN)
        case = factories.case(session, language="en", country="LB")
        factories.inbound(session, case.conversation, f"hi {SCRIPT}")
        cases.flag(session, case, "medium", [{"code": "deception", "evidence": f"hi {SCRIPT}"}])
        case_id = case.id
    token = signed_in(client, f"u{SCRIPT}")
    client.post(f"/dashboard/cases/{case_id}/claim", data={"csrf_token": token})
    client.post(f"/dashboard/cases/{case_id}/notes", data={"csrf_token": token, "text": SCRIPT})

    pages = [
        client.get(url).text
        for url in (
            "/dashboard",
            "/dashboard/queue/rows",
            f"/dashboard/cases/{case_id}",
            f"/dashboard/cases/{case_id}/transcript",
            "/dashboard/admin",
        )
    ]

    for page in pages:
        assert SCRIPT not in page
    assert [ESCAPED in page for page in pages] == [True, True, True, True, True]


def test_supervisors_see_missed_deadlines_and_acknowledge_them(
    client: TestClient, app: FastAPI, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        alerts = cases.sweep_deadlines(session, utcnow() + timedelta(days=2))
        session.flush()
        [alert_id] = [a.id for a in alerts if a.case_id == world.mine_case]
    with TestClient(app, follow_redirects=False) as caseworker:
        other = signed_in(caseworker, "caseworker")
        assert "Alerts for supervisors" not in caseworker.get("/dashboard").text
        refused = caseworker.post(
            f"/dashboard/alerts/{alert_id}/acknowledge", data={"csrf_token": other}
        )
        assert refused.status_code == 403
    token = signed_in(client, "supervisor")
    queue = client.get("/dashboard").text
    assert f"Case #{world.mine_case}</a>:" in queue
    assert "first-response deadline missed" in queue

    done = client.post(f"/dashboard/alerts/{alert_id}/acknowledge", data={"csrf_token": token})

    assert done.status_code == 303
    assert "Alerts for supervisors" not in client.get("/dashboard").text
    assert (
        client.post("/dashboard/alerts/999/acknowledge", data={"csrf_token": token}).status_code
        == 404
    )


def test_supervisors_see_their_organisations_figures(
    client: TestClient, world: World, state: AppState
) -> None:
    with state.db.session() as session:
        factories.case(session, language="en", priority="emergency")
    signed_in(client, "supervisor")

    page = client.get("/dashboard/figures").text

    assert "<dt>Waiting, emergency</dt><dd>1</dd>" in page
    assert "<dt>Waiting, request</dt><dd>1</dd>" in page
    assert "<dt>Opened</dt><dd>2</dd>" in page


def test_pages_are_neither_cached_nor_framed(client: TestClient, world: World) -> None:
    signed_in(client, "caseworker")
    headers = client.get(f"/dashboard/cases/{world.mine_case}").headers

    assert headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self';" in headers["content-security-policy"]


# Administration.


def test_the_admin_creates_a_user(client: TestClient, world: World, state: AppState) -> None:
    token = signed_in(client, "admin")

    created = client.post(
        "/dashboard/admin/users",
        data={
            "csrf_token": token,
            "organisation": "Mine",
            "username": "newcomer",
            "role": "caseworker",
            "password": "a long enough password",
        },
    )
    short = client.post(
        "/dashboard/admin/users",
        data={
            "csrf_token": token,
            "organisation": "Mine",
            "username": "shorty",
            "role": "caseworker",
            "password": "short",
        },
    )

    assert created.status_code == 303
    assert "User newcomer created." in client.get(created.headers["location"]).text
    assert short.status_code == 422
    assert "at least 10 characters" in short.text


def test_only_the_admin_creates_users(client: TestClient, world: World) -> None:
    token = signed_in(client, "supervisor")
    response = client.post(
        "/dashboard/admin/users",
        data={
            "csrf_token": token,
            "organisation": "Mine",
            "username": "sneaky",
            "role": "admin",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 403


# Live updates.


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app behind a real HTTP server: streaming needs one."""
    with serving(app) as base:
        yield base


def signed_in_over_http(browser: httpx.Client, username: str) -> str:
    page = browser.get("/dashboard/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    browser.post(
        "/dashboard/login",
        data={"username": username, "password": factories.PASSWORD, "csrf_token": token},
    )
    return CSRF.search(browser.get("/dashboard").text).group(1)  # type: ignore[union-attr]


def test_the_event_stream_tells_of_changes_to_the_organisations_cases(
    served: str, world: World
) -> None:
    with httpx.Client(base_url=served, follow_redirects=False) as browser:
        csrf = signed_in_over_http(browser, "caseworker")
        received: list[str] = []
        with browser.stream("GET", "/dashboard/events", timeout=10) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            claimed = browser.post(
                f"/dashboard/cases/{world.mine_case}/claim", data={"csrf_token": csrf}
            )
            assert claimed.status_code == 303
            for line in lines:
                received.append(line)
                if line.startswith("data:"):
                    break

    assert received[-2] == "event: case"
    assert f'"case_id": {world.mine_case}' in received[-1]


def test_the_event_stream_ends_when_the_session_does(
    served: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.2)
    with httpx.Client(base_url=served, follow_redirects=False) as browser:
        csrf = signed_in_over_http(browser, "caseworker")
        with browser.stream("GET", "/dashboard/events", timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            assert browser.post("/dashboard/logout", data={"csrf_token": csrf}).status_code == 303
            rest = list(lines)

    assert set(rest) <= {"", ": keep-alive"}
