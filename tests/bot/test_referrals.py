from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import cases, demo_directory, referrals
from bot.app_state import AppState
from bot.models import CaseEvent, DirectoryOrganization, DirectoryService, User, utcnow
from tests.helpers import factories


@dataclass
class World:
    alice: dict[str, str]  # caseworker of Cedar (LB), who refers
    bob: dict[str, str]  # caseworker of Gulf (AE), who receives
    carol: dict[str, str]  # caseworker of Doha (QA), who must see nothing
    case_id: int
    gulf_id: int
    labour_desk_id: int  # run by Gulf's partner in the directory
    clinic_id: int  # a service outside the helpline


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(state: AppState) -> World:
    with state.db.session() as session:
        demo_directory.seed(session)
        cedar = factories.organisation(session, "Cedar", countries=["LB"])
        gulf = factories.organisation(session, "Gulf", countries=["AE"])
        doha = factories.organisation(session, "Doha", countries=["QA"])
        alice = factories.user(session, cedar, "alice")
        bob = factories.user(session, gulf, "bob")
        carol = factories.user(session, doha, "carol")
        partner = session.scalar(
            select(DirectoryOrganization).where(
                DirectoryOrganization.name == "Gulf Workers Rights Centre"
            )
        )
        assert partner is not None
        partner.helpline_organisation_id = gulf.id
        conversation = factories.conversation(session, language="ar", country="LB")
        case = factories.case(session, conversation)
        cases.flag(
            session,
            case,
            "high",
            [{"code": "withholding_of_wages", "evidence": "no pay for 5 months"}],
        )
        cases.claim(session, alice, case.id)

        def service(name: str) -> int:
            found = session.scalar(select(DirectoryService.id).where(DirectoryService.name == name))
            assert found is not None
            return found

        return World(
            bearer(factories.token(session, alice)),
            bearer(factories.token(session, bob)),
            bearer(factories.token(session, carol)),
            case.id,
            gulf.id,
            service("[Demo] GWRC Labour Desk"),
            service("[Demo] Tripoli Community Clinic"),
        )


def refer(client: TestClient, world: World, **body: Any) -> Any:
    body = {
        "to_service_id": world.labour_desk_id,
        "needs": ["labour_complaint"],
        "consent_method": "in_chat",
        "shared": ["language", "needs", "indicators", "summary"],
        "summary": "Unpaid for five months; wants to file a complaint.",
    } | body
    return client.post(f"/api/v1/cases/{world.case_id}/referrals", json=body, headers=world.alice)


def timeline(state: AppState, case_id: int) -> list[tuple[str, str | None]]:
    with state.db.session() as session:
        return [
            (e.kind, e.data.get("by_organisation"))
            for e in session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
            if e.kind.startswith("referral_")
        ]


def test_the_loop_closes_across_two_organisations(
    client: TestClient, state: AppState, world: World
) -> None:
    sent = refer(client, world)
    assert sent.status_code == 201
    referral_id = sent.json()["id"]
    assert (sent.json()["to_organisation"], sent.json()["to_service"]) == (
        "Gulf",
        "[Demo] GWRC Labour Desk",
    )

    inbox = client.get("/api/v1/referrals?direction=incoming", headers=world.bob).json()
    assert [r["id"] for r in inbox] == [referral_id]
    # Bob sees what the person agreed to share, and not their case.
    assert (inbox[0]["case_id"], inbox[0]["shared_details"]) == (
        None,
        {
            "language": "ar",
            "needs": ["labour_complaint"],
            "indicators": ["withholding_of_wages"],
            "summary": "Unpaid for five months; wants to file a complaint.",
        },
    )
    accepted = client.post(f"/api/v1/referrals/{referral_id}/accept", headers=world.bob)
    completed = client.post(
        f"/api/v1/referrals/{referral_id}/complete",
        json={"note": "Complaint filed with the ministry."},
        headers=world.bob,
    )
    assert (accepted.status_code, completed.status_code) == (200, 200)

    mine = client.get(f"/api/v1/referrals/{referral_id}", headers=world.alice).json()
    assert (mine["status"], mine["case_id"], mine["response_note"]) == (
        "completed",
        world.case_id,
        "Complaint filed with the ministry.",
    )
    assert timeline(state, world.case_id) == [
        ("referral_sent", None),
        ("referral_accepted", "Gulf"),
        ("referral_completed", "Gulf"),
    ]


def test_only_what_the_person_agreed_to_is_shared(client: TestClient, world: World) -> None:
    referral_id = refer(client, world, shared=["language"], summary=None).json()["id"]
    seen = client.get(f"/api/v1/referrals/{referral_id}", headers=world.bob).json()
    assert seen["shared_details"] == {"language": "ar"}


def test_contact_is_shared_only_with_consent(client: TestClient, world: World) -> None:
    referral_id = refer(client, world, shared=["contact"], summary=None).json()["id"]
    seen = client.get(f"/api/v1/referrals/{referral_id}", headers=world.bob).json()
    assert list(seen["shared_details"]) == ["contact"]
    assert seen["shared_details"]["contact"].startswith("simulator:person-")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/referrals/{id}"),
        ("post", "/api/v1/referrals/{id}/accept"),
        ("post", "/api/v1/referrals/{id}/decline"),
    ],
    ids=["read", "accept", "decline"],
)
def test_a_third_organisation_sees_nothing(
    client: TestClient, world: World, method: str, path: str
) -> None:
    referral_id = refer(client, world).json()["id"]
    response = client.request(method, path.format(id=referral_id), headers=world.carol)
    assert (response.status_code, response.json()) == (404, {"detail": "no such referral"})
    assert client.get("/api/v1/referrals?direction=incoming", headers=world.carol).json() == []


def test_another_organisations_case_cannot_be_referred(client: TestClient, world: World) -> None:
    response = client.post(
        f"/api/v1/cases/{world.case_id}/referrals",
        json={"to_organisation_id": world.gulf_id, "consent_method": "in_chat"},
        headers=world.carol,
    )
    assert response.status_code == 404


def test_the_referrer_cannot_answer_for_the_receiving_organisation(
    client: TestClient, world: World
) -> None:
    referral_id = refer(client, world).json()["id"]
    response = client.post(f"/api/v1/referrals/{referral_id}/accept", headers=world.alice)
    assert response.status_code == 403


def test_for_a_service_outside_the_helpline_the_referrer_records_the_answer(
    client: TestClient, state: AppState, world: World
) -> None:
    sent = refer(client, world, to_service_id=world.clinic_id, needs=["health"])
    referral_id = sent.json()["id"]
    assert sent.json()["to_organisation"] is None
    declined = client.post(
        f"/api/v1/referrals/{referral_id}/decline",
        json={"note": "Clinic full this month."},
        headers=world.alice,
    )
    assert declined.json()["status"] == "declined"
    assert timeline(state, world.case_id) == [
        ("referral_sent", None),
        ("referral_declined", "Cedar"),
    ]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"consent_method": ""}, "the person's consent is required"),
        ({"summary": "x", "shared": ["language"]}, "a summary is shared only if"),
        ({"shared": ["passport_number"]}, "cannot share ['passport_number']"),
        ({"needs": ["money"]}, "unknown needs ['money']"),
        ({"to_organisation_id": 1}, "refer to exactly one of"),
    ],
    ids=["no-consent", "summary-not-agreed", "unknown-field", "unknown-need", "two-targets"],
)
def test_a_referral_without_what_it_needs_is_refused(
    client: TestClient, world: World, change: dict[str, Any], detail: str
) -> None:
    response = refer(client, world, **change)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


def test_status_changes_follow_the_loop(client: TestClient, world: World) -> None:
    referral_id = refer(client, world).json()["id"]
    early = client.post(f"/api/v1/referrals/{referral_id}/complete", headers=world.bob)
    client.post(f"/api/v1/referrals/{referral_id}/decline", headers=world.bob)
    late = client.post(f"/api/v1/referrals/{referral_id}/accept", headers=world.bob)
    assert (early.status_code, late.status_code) == (409, 409)


def test_overdue_referrals_are_listed_and_flagged_once(
    client: TestClient, state: AppState, world: World
) -> None:
    referral_id = refer(client, world).json()["id"]
    later = utcnow() + referrals.RESPOND_WITHIN + timedelta(hours=1)
    with state.db.session() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
        overdue = referrals.list_referrals(session, alice, overdue=True, now=later)
        first = referrals.sweep_overdue(session, later)
        second = referrals.sweep_overdue(session, later)
    assert ([r.id for r in overdue], [r.id for r in first], second) == (
        [referral_id],
        [referral_id],
        [],
    )
    assert timeline(state, world.case_id) == [("referral_sent", None), ("referral_overdue", None)]
    assert client.get("/api/v1/referrals?overdue=true", headers=world.alice).json() == []


def test_caseworkers_find_services_to_refer_to(client: TestClient, world: World) -> None:
    found = client.get(
        "/api/v1/services?country=ae&need=shelter&language=id", headers=world.alice
    ).json()
    assert [(s["name"], s["city"], s["speaks_language"], s["demo"]) for s in found] == [
        ("[Demo] GWRC Women's Shelter", "Abu Dhabi", True, True)
    ]


def test_erasing_the_person_erases_what_referrals_said_about_them(
    client: TestClient, state: AppState, world: World
) -> None:
    from bot.erasure import erase_in_database
    from bot.models import Case, Referral

    referral_id = refer(client, world).json()["id"]
    with state.db.session() as session:
        case = session.get(Case, world.case_id)
        assert case is not None
        erase_in_database(session, case.conversation_id)
    with state.db.session() as session:
        referral = session.get(Referral, referral_id)
        assert referral is not None
        assert (referral.summary, referral.status) == (None, "sent")
