"""A person's attachment reaches the case, and only the case's caseworker opens it."""

# The provider fixtures are imported below, and pytest passes them to tests by name.
# ruff: noqa: F811

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot import auth, cases
from bot.app_state import AppState
from bot.models import Case
from bot.worker import Worker
from channels import twilio
from tests.helpers import factories
from tests.helpers.fake_telegram import FakeTelegram, message
from tests.helpers.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
    inbound_message,
    signature,
)
from tests.helpers.provider_fixtures import (  # noqa: F401 - fixtures
    app,
    client,
    fake_telegram,
    fake_twilio,
    provider_environ,
    quicker_applications,
    state,
    worker,
)
from tests.helpers.providers import PUBLIC_BASE_URL, TELEGRAM_SECRET, rows

AMINA_WHATSAPP = "whatsapp:+639171234567"
AMINA_TELEGRAM = 700100200
PHOTO = b"\xff\xd8\xff\xe0 a photo of a contract"
VOICE = b"OggS a voice note"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)


@dataclass
class Desk:
    """One organisation: amal and rosa are caseworkers, sam supervises; carol works elsewhere."""

    amal: dict[str, str]
    rosa: dict[str, str]
    sam: dict[str, str]
    carol: dict[str, str]
    editor: dict[str, str]


@pytest.fixture
def desk(state: AppState) -> Desk:
    with state.db.session() as session:
        mine = factories.organisation(session, "Mine", languages=["en"])
        theirs = factories.organisation(session, "Theirs", languages=["ar"])

        def bearer(org: Any, name: str, role: str = cases.CASEWORKER) -> dict[str, str]:
            user = factories.user(session, org, name, role=role)
            return {"Authorization": f"Bearer {factories.token(session, user)}"}

        return Desk(
            amal=bearer(mine, "amal"),
            rosa=bearer(mine, "rosa"),
            sam=bearer(mine, "sam", cases.SUPERVISOR),
            carol=bearer(theirs, "carol"),
            editor=bearer(mine, "eddie", cases.EDITOR),
        )


def waiting_case(state: AppState, channel: str, address: str) -> int:
    """A conversation handed to a person: its case waits in the queue."""
    with state.db.session() as session:
        conversation = factories.conversation(
            session, channel=channel, address=address, mode="human"
        )
        return factories.case(session, conversation).id


async def whatsapp_photo(
    client: httpx.AsyncClient, state: AppState, worker: Worker, fake_twilio: FakeTwilio
) -> tuple[int, int]:
    """Amina, talking to a caseworker on WhatsApp, sends a photo: (case id, message id)."""
    case_id = waiting_case(state, "whatsapp", AMINA_WHATSAPP)
    url = fake_twilio.add_media("image/jpeg", PHOTO)
    form = inbound_message(AMINA_WHATSAPP, "my contract", media=[(url, "image/jpeg")])
    url_signed = PUBLIC_BASE_URL + "/webhooks/twilio"
    response = await client.post(
        "/webhooks/twilio",
        data=form,
        headers={"X-Twilio-Signature": signature(url_signed, form)},
    )
    assert response.status_code == 200
    [row] = rows(state, direction="in")
    await worker.handle_conversation(row.conversation_id)
    return case_id, row.id


async def claim(client: httpx.AsyncClient, case_id: int, headers: dict[str, str]) -> None:
    assert (await client.post(f"/api/v1/cases/{case_id}/claim", headers=headers)).status_code == 200


def media_path(case_id: int, message_id: int, n: int = 0) -> str:
    return f"/api/v1/cases/{case_id}/messages/{message_id}/media/{n}"


async def test_a_whatsapp_photo_reaches_the_case_and_its_caseworker_opens_it(
    client: httpx.AsyncClient,
    state: AppState,
    worker: Worker,
    fake_twilio: FakeTwilio,
    desk: Desk,
) -> None:
    case_id, message_id = await whatsapp_photo(client, state, worker, fake_twilio)
    await claim(client, case_id, desk.amal)

    case = (await client.get(f"/api/v1/cases/{case_id}", headers=desk.amal)).json()
    opened = await client.get(media_path(case_id, message_id), headers=desk.amal)

    [person] = [m for m in case["transcript"] if m["direction"] == "in"]
    assert (person["id"], person["text"], person["media"]) == (
        message_id,
        "my contract",
        [{"n": 0, "kind": "image", "content_type": "image/jpeg"}],
    )
    assert (opened.status_code, opened.content) == (200, PHOTO)
    assert opened.headers["content-type"] == "image/jpeg"
    assert opened.headers["content-disposition"] == f'inline; filename="message-{message_id}-0.jpg"'
    assert opened.headers["x-content-type-options"] == "nosniff"
    # The provider's address and the account's credentials stay inside the helpline.
    exposed = json.dumps(case) + opened.text + json.dumps(dict(opened.headers))
    for secret in (fake_twilio.url, ACCOUNT_SID, AUTH_TOKEN, "Media/ME"):
        assert secret not in exposed
    first, _redirected = fake_twilio.recorded(lambda r: r.method == "GET")
    assert first.headers["Authorization"].startswith("Basic ")
    events = (await client.get(f"/api/v1/cases/{case_id}", headers=desk.amal)).json()["events"]
    assert [(e["kind"], e["user"], e["data"]) for e in events][-1] == (
        "attachment_opened",
        "amal",
        {"message_id": message_id, "n": 0},
    )


async def test_a_telegram_voice_note_is_fetched_through_get_file(
    client: httpx.AsyncClient,
    state: AppState,
    worker: Worker,
    fake_telegram: FakeTelegram,
    desk: Desk,
) -> None:
    case_id = waiting_case(state, "telegram", str(AMINA_TELEGRAM))
    file_id = fake_telegram.add_file(VOICE, "voice/file_3.oga")
    voice = {"file_id": file_id, "file_unique_id": "u3", "duration": 4, "mime_type": "audio/ogg"}
    update = {"update_id": 31, "message": message(AMINA_TELEGRAM, 31, voice=voice)}
    response = await client.post(
        "/webhooks/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == 200
    [row] = rows(state, direction="in")
    await worker.handle_conversation(row.conversation_id)
    await claim(client, case_id, desk.amal)

    opened = await client.get(media_path(case_id, row.id), headers=desk.amal)

    assert (opened.status_code, opened.content, opened.headers["content-type"]) == (
        200,
        VOICE,
        "audio/ogg",
    )
    assert [c.params for c in fake_telegram.calls("getFile")] == [{"file_id": file_id}]
    assert fake_telegram.token not in opened.text + json.dumps(dict(opened.headers))
    # In human mode the bot stays silent: nothing was sent to the person.
    assert fake_telegram.sent() == []


@pytest.mark.parametrize(
    ("claimed_by", "opener", "status"),
    [
        ("amal", "amal", 200),
        ("amal", "sam", 200),
        ("amal", "rosa", 404),
        ("amal", "carol", 404),
        ("amal", "editor", 404),
        (None, "amal", 404),
        (None, "sam", 200),
    ],
    ids=[
        "assigned-caseworker",
        "supervisor",
        "colleague",
        "other-organisation",
        "editor",
        "unclaimed-caseworker",
        "unclaimed-supervisor",
    ],
)
async def test_only_whoever_works_on_the_case_opens_its_attachments(
    client: httpx.AsyncClient,
    state: AppState,
    worker: Worker,
    fake_twilio: FakeTwilio,
    desk: Desk,
    claimed_by: str | None,
    opener: str,
    status: int,
) -> None:
    case_id, message_id = await whatsapp_photo(client, state, worker, fake_twilio)
    if claimed_by is not None:
        await claim(client, case_id, getattr(desk, claimed_by))

    opened = await client.get(media_path(case_id, message_id), headers=getattr(desk, opener))

    assert opened.status_code == status
    fetched = fake_twilio.recorded(lambda r: r.method == "GET")
    assert bool(fetched) == (status == 200)


async def test_a_request_without_a_token_is_401(
    client: httpx.AsyncClient, state: AppState, worker: Worker, fake_twilio: FakeTwilio
) -> None:
    case_id, message_id = await whatsapp_photo(client, state, worker, fake_twilio)

    assert (await client.get(media_path(case_id, message_id))).status_code == 401


@pytest.mark.parametrize(
    "where",
    ["other-conversation", "no-such-message", "past-the-last", "negative", "location"],
    ids=["other-conversation", "no-such-message", "past-the-last", "negative", "location"],
)
async def test_what_is_not_an_attachment_of_the_case_is_404(
    client: httpx.AsyncClient,
    state: AppState,
    worker: Worker,
    fake_twilio: FakeTwilio,
    desk: Desk,
    where: str,
) -> None:
    case_id, message_id = await whatsapp_photo(client, state, worker, fake_twilio)
    await claim(client, case_id, desk.amal)
    with state.db.session() as session:
        elsewhere = factories.inbound(session, factories.conversation(session)).id
        case = session.get(Case, case_id)
        assert case is not None
        here = factories.inbound(session, case.conversation)
        here.payload = json.dumps({"media": [{"kind": "location", "url": "geo:33.9,35.5"}]})
        located = here.id
    path = {
        "other-conversation": media_path(case_id, elsewhere),
        "no-such-message": media_path(case_id, 999_999),
        "past-the-last": media_path(case_id, message_id, 1),
        "negative": media_path(case_id, message_id, -1),
        "location": media_path(case_id, located),
    }[where]

    response = await client.get(path, headers=desk.amal)

    assert (response.status_code, response.json()) == (404, {"detail": "no such attachment"})
    assert fake_twilio.recorded(lambda r: r.method == "GET") == []


async def test_a_location_shows_as_coordinates_in_the_transcript(
    client: httpx.AsyncClient, state: AppState, desk: Desk
) -> None:
    case_id = waiting_case(state, "whatsapp", AMINA_WHATSAPP)
    with state.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        row = factories.inbound(session, case.conversation, None)
        row.payload = json.dumps(
            {"media": [{"kind": "location", "content_type": None, "url": "geo:33.9,35.5"}]}
        )

    case_body = (await client.get(f"/api/v1/cases/{case_id}", headers=desk.sam)).json()

    assert [m["media"] for m in case_body["transcript"]] == [
        [{"n": 0, "kind": "location", "content_type": None, "location": "geo:33.9,35.5"}]
    ]


@pytest.mark.parametrize("problem", ["gone", "too-large"], ids=["gone", "too-large"])
async def test_a_file_the_provider_does_not_give_is_a_clear_502(
    client: httpx.AsyncClient,
    state: AppState,
    worker: Worker,
    fake_twilio: FakeTwilio,
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    problem: str,
) -> None:
    case_id, message_id = await whatsapp_photo(client, state, worker, fake_twilio)
    await claim(client, case_id, desk.amal)
    if problem == "gone":
        fake_twilio.media.clear()
    else:
        monkeypatch.setattr(twilio, "MAX_MEDIA_BYTES", len(PHOTO) - 1)

    response = await client.get(media_path(case_id, message_id), headers=desk.amal)

    expected = {
        "gone": "the attachment could not be fetched: twilio: media answered HTTP 404",
        "too-large": "the attachment could not be fetched: twilio: media over the size limit",
    }[problem]
    assert (response.status_code, response.json()) == (502, {"detail": expected})
