from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time

import httpx
import pytest
from sqlalchemy import text

from bot import cases, outbox
from bot.app_state import AppState
from bot.errors import MediaUnavailable
from bot.models import Case, Conversation, Message
from bot.worker import MAX_BOT_TEXT, Worker
from channels.base import Choice, Fetched, Media, Outgoing
from channels.pacing import Pace, Pacer
from channels.twilio import EMPTY_TWIML, SmsChannel, WhatsAppChannel, country_of
from tests.helpers import factories
from tests.helpers.fake_twilio import (
    AUTH_TOKEN,
    FakeTwilio,
    inbound_message,
    signature,
    status_callback,
)
from tests.helpers.providers import (
    FIRST_ANSWER_EN,
    ODD_TEXTS,
    PUBLIC_BASE_URL,
    SMS_FROM,
    WHATSAPP_FROM,
    ScriptedRasa,
    case_events,
    contact_of,
    new_conversation,
    queue,
    rows,
)

AMINA_SMS = "+96170123456"  # Lebanon
AMINA_WHATSAPP = "whatsapp:+639171234567"  # the Philippines
MENU = (
    Choice("My rights at work", "/faq"),
    Choice("Talk to a person", "/request_human"),
    Choice("Change language", "/choose_language"),
)


async def post(
    client: httpx.AsyncClient,
    form: dict[str, str],
    path: str = "/webhooks/twilio",
    *,
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
) -> httpx.Response:
    """Post a form as Twilio does, signed for PUBLIC_BASE_URL + path unless told otherwise."""
    url = signed_url or PUBLIC_BASE_URL + path
    headers = {"X-Twilio-Signature": signature(url, form, token)}
    return await client.post(path, data=form, headers=headers)


def sid(n: int) -> str:
    return f"SM{n:032x}"


async def converse(
    client: httpx.AsyncClient, state: AppState, worker: Worker, form: dict[str, str]
) -> int:
    """The person writes; the worker handles their conversation. Returns its id."""
    assert (await post(client, form)).status_code == 200
    conversation_id = rows(state, provider_id=form["MessageSid"])[0].conversation_id
    await worker.handle_conversation(conversation_id)
    return conversation_id


def stored(state: AppState) -> list[tuple[str, str | None, str]]:
    return [(m.channel, m.body, m.provider_id or "") for m in rows(state, direction="in")]


# Inbound -------------------------------------------------------------------------------


async def test_sms_is_stored_and_acknowledged_with_empty_twiml(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await post(client, inbound_message(AMINA_SMS, "Hello, I need help", sid=sid(1)))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == EMPTY_TWIML
    [message] = rows(state)
    assert (message.channel, message.direction, message.body, message.status) == (
        "sms",
        "in",
        "Hello, I need help",
        "received",
    )
    assert message.provider_id == sid(1)
    contact = contact_of(state, message.conversation_id)
    assert (contact.channel, contact.address, contact.country) == ("sms", AMINA_SMS, "LB")


async def test_whatsapp_senders_are_the_whatsapp_channel(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await post(client, inbound_message(AMINA_WHATSAPP, "Kumusta", sid=sid(2)))

    assert response.status_code == 200
    [message] = rows(state)
    assert (message.channel, message.body) == ("whatsapp", "Kumusta")
    contact = contact_of(state, message.conversation_id)
    assert (contact.channel, contact.address, contact.country) == ("whatsapp", AMINA_WHATSAPP, "PH")
    with state.db.session() as session:
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None and conversation.country == "PH"


@pytest.mark.parametrize(
    "forge",
    ["no-signature", "wrong-token", "other-url", "tampered-body", "extra-field", "query-added"],
)
async def test_forged_requests_are_refused_and_logged_without_content(
    client: httpx.AsyncClient, state: AppState, caplog: pytest.LogCaptureFixture, forge: str
) -> None:
    form = inbound_message(AMINA_SMS, "my boss took my passport", sid=sid(3))
    url = PUBLIC_BASE_URL + "/webhooks/twilio"
    headers = {
        "no-signature": {},
        "wrong-token": {"X-Twilio-Signature": signature(url, form, "not-the-token")},
        "other-url": {
            "X-Twilio-Signature": signature("https://evil.example/webhooks/twilio", form)
        },
        "tampered-body": {"X-Twilio-Signature": signature(url, form | {"Body": "hello"})},
        "extra-field": {"X-Twilio-Signature": signature(url, form)},
        "query-added": {"X-Twilio-Signature": signature(url, form)},
    }[forge]
    posted = form | {"NumMedia": "1", "MediaUrl0": "https://x"} if forge == "extra-field" else form
    path = "/webhooks/twilio?x=1" if forge == "query-added" else "/webhooks/twilio"

    with caplog.at_level(logging.INFO):
        response = await client.post(path, data=posted, headers=headers)

    assert response.status_code == 403
    assert rows(state) == []
    assert "twilio webhook refused" in caplog.text
    assert "passport" not in caplog.text and AMINA_SMS not in caplog.text


async def test_a_query_string_in_the_configured_url_is_part_of_the_signature(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(AMINA_SMS, "hello", sid=sid(4))
    url = PUBLIC_BASE_URL + "/webhooks/twilio?org=1"
    headers = {"X-Twilio-Signature": signature(url, form)}

    response = await client.post("/webhooks/twilio?org=1", data=form, headers=headers)

    assert response.status_code == 200
    assert len(rows(state)) == 1


async def test_a_repeated_message_sid_is_stored_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(AMINA_SMS, "hello", sid=sid(5))

    first, again = await post(client, form), await post(client, form)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.text == EMPTY_TWIML
    assert stored(state) == [("sms", "hello", sid(5))]


async def test_deliveries_out_of_order_and_repeated_keep_every_message_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first = inbound_message(AMINA_SMS, "first", sid=sid(6))
    second = inbound_message(AMINA_SMS, "second", sid=sid(7))

    for form in (second, first, second, first):
        assert (await post(client, form)).status_code == 200

    # Stored in the order they arrived: the worker answers them in that order.
    assert stored(state) == [("sms", "second", sid(7)), ("sms", "first", sid(6))]
    assert len({m.conversation_id for m in rows(state)}) == 1


@pytest.mark.parametrize(
    "body", [None, "", "   \n "], ids=["missing-body", "empty-body", "whitespace-body"]
)
async def test_a_message_without_text_or_attachment_is_acknowledged_and_not_stored(
    client: httpx.AsyncClient, state: AppState, body: str | None
) -> None:
    response = await post(client, inbound_message(AMINA_SMS, body, sid=sid(8)))

    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    assert rows(state) == []


async def test_a_missing_body_with_an_attachment_is_stored_as_media(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(
        AMINA_WHATSAPP, None, sid=sid(9), media=[("https://api.twilio.com/m/1", "audio/ogg")]
    )

    assert (await post(client, form)).status_code == 200

    [message] = rows(state)
    assert message.body is None
    assert json.loads(message.payload or "{}")["media"] == [
        {"kind": "audio", "content_type": "audio/ogg", "url": "https://api.twilio.com/m/1"}
    ]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"From": ""}, 400),
        ({"MessageSid": "", "SmsSid": ""}, 400),
        ({"MessageSid": "SM' OR 1=1 --"}, 400),
        ({"From": "+1" * 40}, 400),
        ({"NumMedia": "two"}, 400),
        ({"NumMedia": "11"}, 400),
        ({"NumMedia": "1"}, 400),
        ({"Latitude": "north", "Longitude": "35.5"}, 400),
    ],
    ids=[
        "no-from",
        "no-sid",
        "malformed-sid",
        "long-from",
        "num-media-not-a-number",
        "too-many-media",
        "media-url-missing",
        "latitude-not-a-number",
    ],
)
async def test_malformed_but_signed_forms_are_bad_requests(
    client: httpx.AsyncClient, state: AppState, change: dict[str, str], status: int
) -> None:
    form = inbound_message(AMINA_SMS, "hello", sid=sid(10)) | change

    response = await post(client, form)

    assert response.status_code == status
    assert rows(state) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"Body=%FF%FEhello&From=%2B96170123456&MessageSid=SM" + b"0" * 32,
        b"Body=\xff\xfe&From=%2B96170123456&MessageSid=SM" + b"0" * 32,
    ],
    ids=["percent-encoded-latin1", "raw-bytes"],
)
async def test_a_form_that_is_not_utf8_is_a_bad_request(
    client: httpx.AsyncClient, state: AppState, raw: bytes
) -> None:
    response = await client.post(
        "/webhooks/twilio",
        content=raw,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "c2lnbmF0dXJl",
        },
    )

    assert response.status_code == 400
    assert rows(state) == []


async def test_an_oversized_form_is_refused_before_it_is_read(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(AMINA_SMS, "x" * 300_000, sid=sid(11))

    response = await post(client, form)

    assert response.status_code == 413
    assert rows(state) == []


@pytest.mark.parametrize("body", ODD_TEXTS.values(), ids=ODD_TEXTS.keys())
async def test_any_text_is_stored_exactly(
    client: httpx.AsyncClient, state: AppState, body: str
) -> None:
    response = await post(client, inbound_message(AMINA_WHATSAPP, body, sid=sid(12)))

    assert response.status_code == 200
    assert stored(state) == [("whatsapp", body, sid(12))]


MEDIA = [
    ("whatsapp", "image/jpeg", "image"),
    ("whatsapp", "audio/ogg", "audio"),
    ("whatsapp", "video/mp4", "video"),
    ("whatsapp", "application/pdf", "document"),
    ("whatsapp", "text/vcard", "document"),
    ("whatsapp", "image/webp", "sticker"),
    ("sms", "image/webp", "image"),
    ("sms", "image/gif", "image"),
    ("sms", "audio/amr", "audio"),
    ("sms", "model/gltf+json", "other"),
]


@pytest.mark.parametrize(
    ("channel", "content_type", "kind"),
    MEDIA,
    ids=[f"{channel}-{content_type}" for channel, content_type, _kind in MEDIA],
)
async def test_every_attachment_becomes_media_kept_inside_the_encrypted_payload(
    client: httpx.AsyncClient, state: AppState, channel: str, content_type: str, kind: str
) -> None:
    sender = AMINA_WHATSAPP if channel == "whatsapp" else AMINA_SMS
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    form = inbound_message(sender, "", sid=sid(13), media=[(url, content_type)])

    assert (await post(client, form)).status_code == 200

    [message] = rows(state)
    assert (message.channel, message.body) == (channel, None)
    assert json.loads(message.payload or "{}")["media"] == [
        {"kind": kind, "content_type": content_type, "url": url}
    ]
    with state.db.engine.connect() as connection:
        raw = connection.execute(text("SELECT payload FROM messages")).scalar_one()
    assert "twilio.com" not in raw


async def test_a_whatsapp_location_and_several_attachments_with_a_caption(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(
        AMINA_WHATSAPP,
        "this is where I am",
        sid=sid(14),
        media=[("https://m/1", "image/jpeg"), ("https://m/2", "image/png")],
    ) | {"Latitude": "33.8938", "Longitude": "35.5018", "Address": "Beirut"}

    assert (await post(client, form)).status_code == 200

    [message] = rows(state)
    assert message.body == "this is where I am"
    assert [m["kind"] for m in json.loads(message.payload or "{}")["media"]] == [
        "image",
        "image",
        "location",
    ]
    assert json.loads(message.payload or "{}")["media"][2]["url"] == "geo:33.8938,35.5018"


async def test_a_whatsapp_button_press_is_its_payload(
    client: httpx.AsyncClient, state: AppState
) -> None:
    form = inbound_message(
        AMINA_WHATSAPP, "Talk to a person", sid=sid(15), ButtonPayload="/request_human"
    )

    assert (await post(client, form)).status_code == 200

    assert stored(state) == [("whatsapp", "/request_human", sid(15))]


# Outbound ------------------------------------------------------------------------------


def conversation(
    state: AppState,
    channel: str = "sms",
    address: str = AMINA_SMS,
    *,
    wrote_hours_ago: float = 0.0,
    with_case: bool = False,
) -> int:
    return new_conversation(
        state, channel, address, wrote_hours_ago=wrote_hours_ago, with_case=with_case
    )


async def test_an_sms_reply_goes_through_the_twilio_client_with_a_status_callback(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    [message_id] = queue(state, conversation(state), Outgoing("We can help you."))

    assert await outbox.deliver(state, message_id) == "sent"

    [request] = fake_twilio.sent()
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert request.params == {
        "To": AMINA_SMS,
        "From": SMS_FROM,
        "Body": "We can help you.",
        "StatusCallback": PUBLIC_BASE_URL + "/webhooks/twilio/status",
    }
    [row] = rows(state, id=message_id)
    assert (row.status, row.provider_id, row.error, row.attempts) == (
        "sent",
        next(iter(fake_twilio.messages)),
        None,
        1,
    )


async def test_a_whatsapp_reply_is_sent_from_the_whatsapp_sender(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    conv = conversation(state, "whatsapp", AMINA_WHATSAPP)
    [message_id] = queue(state, conv, Outgoing("Salamat."))

    assert await outbox.deliver(state, message_id) == "sent"

    [request] = fake_twilio.sent()
    assert (request.params["From"], request.params["To"]) == (
        f"whatsapp:{WHATSAPP_FROM}",
        AMINA_WHATSAPP,
    )


async def test_an_invalid_number_is_refused_by_the_provider_once(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    [message_id] = queue(state, conversation(state, address="+1 (555) 01"), Outgoing("Hello."))

    assert await outbox.deliver(state, message_id) == "failed"

    assert len(fake_twilio.sent()) == 1
    [row] = rows(state, id=message_id)
    assert row.error == "twilio 21211: refused (HTTP 400): not a valid phone number"


async def test_whatsapp_outside_the_24_hour_window_is_refused_before_sending(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    conv = conversation(state, "whatsapp", AMINA_WHATSAPP, wrote_hours_ago=25, with_case=True)
    with state.db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)
        case = session.query(Case).one()
        case.organisation_id = org.id
        cases.claim(session, caseworker, case.id)
        message_id = cases.add_caseworker_message(session, caseworker, case.id, "Are you safe?").id

    assert await outbox.deliver(state, message_id) == "failed"

    assert fake_twilio.sent() == []
    [row] = rows(state, id=message_id)
    assert row.error is not None and "24 hours" in row.error and "template" in row.error
    assert case_events(state)[-1][0] == "delivery_failed"
    assert contact_of(state, conv).unreachable is False


TEMPLATE = "HX" + "0123456789abcdef" * 2


async def claimed_whatsapp_case(
    client: httpx.AsyncClient,
    state: AppState,
    *,
    wrote_hours_ago: float,
    channel: str = "whatsapp",
    address: str = AMINA_WHATSAPP,
) -> tuple[int, dict[str, str]]:
    """A WhatsApp (or ``channel``) case claimed by a caseworker: (case id, their bearer header)."""
    new_conversation(state, channel, address, wrote_hours_ago=wrote_hours_ago)
    with state.db.session() as session:
        org = factories.organisation(session)
        conv = session.query(Conversation).one()
        case = factories.case(session, conv)
        case.organisation_id = org.id
        headers = {
            "Authorization": f"Bearer {factories.token(session, factories.user(session, org))}"
        }
        case_id = case.id
    assert (await client.post(f"/api/v1/cases/{case_id}/claim", headers=headers)).status_code == 200
    return case_id, headers


@pytest.mark.parametrize("template", [TEMPLATE, None], ids=["template-configured", "no-template"])
async def test_a_caseworker_reply_outside_the_window_is_refused_and_the_template_offered(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio, template: str | None
) -> None:
    state.settings = dataclasses.replace(state.settings, twilio_whatsapp_template_sid=template)
    case_id, headers = await claimed_whatsapp_case(client, state, wrote_hours_ago=25)

    response = await client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "Are you safe?"}, headers=headers
    )

    reason = (
        "more than 24 hours since the person last wrote, and whatsapp then accepts only "
        "approved template messages (Twilio error 63016); "
    )
    expected = {
        TEMPLATE: {
            "error": "reply_window_closed",
            "message": reason + "send the approved template to invite them to write again",
            "template_route": f"/api/v1/cases/{case_id}/template",
        },
        None: {
            "error": "reply_window_closed",
            "message": reason + "no approved template is configured "
            "(TWILIO_WHATSAPP_TEMPLATE_SID): only their next message reopens the conversation",
            "template_route": None,
        },
    }[template]
    assert (response.status_code, response.json()) == (409, {"detail": expected})
    assert rows(state, direction="out") == []
    assert fake_twilio.sent() == []


async def test_the_template_goes_out_outside_the_window_and_a_reply_reopens_it(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio, worker: Worker
) -> None:
    state.settings = dataclasses.replace(state.settings, twilio_whatsapp_template_sid=TEMPLATE)
    case_id, headers = await claimed_whatsapp_case(client, state, wrote_hours_ago=25)

    invited = await client.post(f"/api/v1/cases/{case_id}/template", headers=headers)

    assert invited.status_code == 202
    [sent] = fake_twilio.sent()
    assert (sent.params.get("ContentSid"), sent.params.get("Body"), sent.params["From"]) == (
        TEMPLATE,
        None,
        f"whatsapp:{WHATSAPP_FROM}",
    )
    [row] = rows(state, direction="out")
    assert (row.status, row.author, row.body) == (
        "sent",
        "caseworker",
        f"whatsapp template {TEMPLATE}",
    )
    # The person answers the invitation: the window is open again.
    await converse(client, state, worker, inbound_message(AMINA_WHATSAPP, "yes", sid=sid(77)))
    reply = await client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "Are you safe?"}, headers=headers
    )
    assert reply.status_code == 202
    assert [r.params.get("Body") for r in fake_twilio.sent()] == [None, "Are you safe?"]


@pytest.mark.parametrize("hours_ago", [71, 73], ids=["inside", "outside"])
async def test_sms_caseworker_replies_go_only_inside_the_helplines_window(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio, hours_ago: int
) -> None:
    # SMS has no provider window; the helpline's own (72 hours by default) applies.
    assert state.settings.reply_window_hours == 72
    case_id, headers = await claimed_whatsapp_case(
        client, state, wrote_hours_ago=hours_ago, channel="sms", address=AMINA_SMS
    )

    response = await client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "Are you safe?"}, headers=headers
    )

    if hours_ago < 72:
        assert response.status_code == 202
        assert [r.params["Body"] for r in fake_twilio.sent()] == ["Are you safe?"]
        return
    assert (response.status_code, response.json()) == (
        409,
        {
            "detail": {
                "error": "reply_window_closed",
                "message": "more than 72 hours since the person last wrote; the helpline writes "
                "only to someone who wrote recently, so that no message arrives unprompted "
                "(HELPLINE_REPLY_WINDOW_HOURS); only their next message reopens the conversation",
                "template_route": None,
            }
        },
    )
    assert rows(state, direction="out") == []
    assert fake_twilio.sent() == []


async def test_past_the_helplines_window_not_even_the_whatsapp_template_goes_out(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio
) -> None:
    state.settings = dataclasses.replace(
        state.settings, twilio_whatsapp_template_sid=TEMPLATE, reply_window_hours=48
    )
    case_id, headers = await claimed_whatsapp_case(client, state, wrote_hours_ago=49)

    refused = await client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "Are you safe?"}, headers=headers
    )
    invited = await client.post(f"/api/v1/cases/{case_id}/template", headers=headers)

    assert refused.status_code == 409
    assert refused.json()["detail"]["template_route"] is None
    assert "more than 48 hours" in refused.json()["detail"]["message"]
    assert invited.status_code == 409
    assert "HELPLINE_REPLY_WINDOW_HOURS" in invited.json()["detail"]
    assert rows(state, direction="out") == []
    assert fake_twilio.sent() == []


@pytest.mark.parametrize("hours_ago", [1, 80], ids=["inside", "outside"])
async def test_closing_tells_the_person_only_inside_the_window(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio, hours_ago: int
) -> None:
    case_id, headers = await claimed_whatsapp_case(
        client, state, wrote_hours_ago=hours_ago, channel="sms", address=AMINA_SMS
    )

    closed = await client.post(
        f"/api/v1/cases/{case_id}/close", json={"outcome": "information_given"}, headers=headers
    )

    assert closed.json()["status"] == "closed"
    # The goodbye and the rating question, or nothing at all.
    assert len(rows(state, direction="out")) == (2 if hours_ago == 1 else 0)


async def test_a_channel_without_a_reply_window_has_no_template(
    client: httpx.AsyncClient, state: AppState
) -> None:
    new_conversation(state, "sms", AMINA_SMS)
    with state.db.session() as session:
        org = factories.organisation(session)
        case = factories.case(session, session.query(Conversation).one())
        case.organisation_id = org.id
        headers = {
            "Authorization": f"Bearer {factories.token(session, factories.user(session, org))}"
        }
        case_id = case.id

    response = await client.post(f"/api/v1/cases/{case_id}/template", headers=headers)

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "sms has no approved template configured"},
    )


async def test_a_senders_rate_paces_all_its_sends_when_configured(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    state.settings = dataclasses.replace(state.settings, twilio_sms_rate=2.0)
    old, state.channels["sms"] = state.channels["sms"], SmsChannel(state)
    await old.close()
    paced = state.channels["sms"]
    assert paced._pacer is not None and state.channels["whatsapp"]._pacer is None
    assert paced._pacer.pace == Pace(2.0, 2, 2.0, 2)
    paced._pacer = Pacer(paced._pacer.pace, clock=lambda: 0.0, sleep=sleep)
    first = queue(state, conversation(state, "sms", AMINA_SMS), Outgoing("One."), Outgoing("Two."))
    second = queue(state, conversation(state, "sms", "+96170999999"), Outgoing("Three."))

    await outbox.deliver_all(state, first)
    await outbox.deliver_all(state, second)

    assert [r.params["Body"] for r in fake_twilio.sent()] == ["One.", "Two.", "Three."]
    assert slept == [0.5]


# Delivery reports -----------------------------------------------------------------------


async def sent_message(
    state: AppState, channel: str = "sms", *, with_case: bool = False
) -> Message:
    address = AMINA_WHATSAPP if channel == "whatsapp" else AMINA_SMS
    [message_id] = queue(
        state, conversation(state, channel, address, with_case=with_case), Outgoing("Hi.")
    )
    assert await outbox.deliver(state, message_id) == "sent"
    [row] = rows(state, id=message_id)
    return row


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        (["queued", "sent", "delivered"], "delivered"),
        (["sent", "delivered", "read"], "read"),
        (["delivered", "sent"], "delivered"),
        (["read", "delivered", "sent"], "read"),
        (["delivered", "delivered"], "delivered"),
        (["sending", "accepted"], "sent"),
    ],
    ids=["in-order", "read", "sent-after-delivered", "reversed", "repeated", "not-final"],
)
async def test_delivery_reports_only_move_a_message_forward(
    client: httpx.AsyncClient,
    state: AppState,
    fake_twilio: FakeTwilio,
    reports: list[str],
    expected: str,
) -> None:
    message = await sent_message(state, "whatsapp")
    assert message.provider_id is not None

    for report in reports:
        response = await post(
            client, status_callback(message.provider_id, report), "/webhooks/twilio/status"
        )
        assert response.status_code == 204

    assert [r.status for r in rows(state, id=message.id)] == [expected]


@pytest.mark.parametrize(
    ("status", "code", "explained", "unreachable"),
    [
        ("undelivered", 63016, "24-hour window", False),
        ("failed", 21610, "unsubscribed", True),
        ("undelivered", 30003, "phone is off", False),
        ("undelivered", 30005, "unknown number", True),
        ("undelivered", 30006, "landline", True),
        ("undelivered", 30007, "filtered by the carrier", False),
        ("failed", 30008, "unknown error", False),
        ("failed", 12345, "see twilio.com/docs/errors", False),
    ],
    ids=["63016", "21610", "30003", "30005", "30006", "30007", "30008", "unknown-code"],
)
async def test_a_failed_delivery_is_explained_on_the_message_and_the_case(
    client: httpx.AsyncClient,
    state: AppState,
    status: str,
    code: int,
    explained: str,
    unreachable: bool,
) -> None:
    message = await sent_message(state, "whatsapp", with_case=True)
    assert message.provider_id is not None
    form = status_callback(message.provider_id, status, error_code=code)

    response = await post(client, form, "/webhooks/twilio/status")

    assert response.status_code == 204
    [row] = rows(state, id=message.id)
    assert row.status == "failed"
    assert row.error is not None
    assert row.error.startswith(f"twilio {code}: {status}: ") and explained in row.error
    assert contact_of(state, row.conversation_id).unreachable is unreachable
    assert case_events(state)[-1] == ("delivery_failed", {"message_id": row.id, "error": row.error})


async def test_a_caseworker_sees_why_their_reply_was_not_delivered(
    client: httpx.AsyncClient, state: AppState, fake_twilio: FakeTwilio
) -> None:
    case_id, headers = await claimed_whatsapp_case(client, state, wrote_hours_ago=23.99)
    reply = await client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "Are you safe?"}, headers=headers
    )
    [row] = rows(state, id=reply.json()["id"])
    assert row.provider_id is not None
    # Twilio's clock says the window closed before the message reached WhatsApp.
    report = status_callback(row.provider_id, "undelivered", error_code=63016)

    assert (await post(client, report, "/webhooks/twilio/status")).status_code == 204

    case = (await client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    [out] = [m for m in case["transcript"] if m["direction"] == "out"]
    explained = (
        "twilio 63016: undelivered: outside WhatsApp's 24-hour window: only an approved "
        "template can go out until the person writes again (POST /api/v1/cases/{id}/template)"
    )
    assert (out["status"], out["error"]) == ("failed", explained)
    assert (case["events"][-1]["kind"], case["events"][-1]["data"]["error"]) == (
        "delivery_failed",
        explained,
    )


async def test_a_report_of_an_unknown_or_erased_message_changes_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    message = await sent_message(state)

    response = await post(client, status_callback(sid(999), "failed"), "/webhooks/twilio/status")

    assert response.status_code == 204
    assert [r.status for r in rows(state, id=message.id)] == ["sent"]


@pytest.mark.parametrize(
    "form",
    [{"MessageSid": "", "MessageStatus": "delivered"}, {"MessageSid": "SM1", "MessageStatus": "x"}],
    ids=["no-sid", "malformed-sid"],
)
async def test_a_malformed_report_is_a_bad_request(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    assert (await post(client, form, "/webhooks/twilio/status")).status_code == 400


async def test_a_forged_report_is_refused(client: httpx.AsyncClient, state: AppState) -> None:
    message = await sent_message(state)
    assert message.provider_id is not None
    form = status_callback(message.provider_id, "failed", error_code=30003)

    response = await post(client, form, "/webhooks/twilio/status", token="guessed")

    assert response.status_code == 403
    assert [r.status for r in rows(state, id=message.id)] == ["sent"]


async def test_the_fake_reports_delivery_to_the_helpline_like_twilio(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    """The benchmarks run the fake with callbacks; here they reach a recording server."""
    with FakeTwilio(callbacks=True) as reporting, FakeTwilio() as receiver:
        client = state.channels["sms"]
        assert isinstance(client, SmsChannel)
        client.client.api.base_url = reporting.url
        client.status_callback = receiver.url + "/webhooks/twilio/status"
        [message_id] = queue(state, conversation(state), Outgoing("Hi."))
        assert await outbox.deliver(state, message_id) == "sent"

        deadline = time.monotonic() + 5
        while len(receiver.recorded()) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        reports = receiver.recorded()

    assert [r.params["MessageStatus"] for r in reports] == ["sent", "delivered"]
    url = receiver.url + "/webhooks/twilio/status"
    assert all(r.headers["X-Twilio-Signature"] == signature(url, r.params) for r in reports)


# A conversation through the worker -------------------------------------------------------

HOW_CAN_I_HELP = {
    "text": "How can I help you? Choose one, or write your question in your own words.",
    "buttons": [{"title": c.title, "payload": c.payload} for c in MENU],
}


@pytest.mark.parametrize(
    ("sender", "channel"),
    [(AMINA_SMS, "sms"), (AMINA_WHATSAPP, "whatsapp")],
    ids=["sms", "whatsapp"],
)
async def test_a_scripted_conversation_gets_numbered_menus_and_numbers_mean_choices(
    client: httpx.AsyncClient,
    state: AppState,
    fake_twilio: FakeTwilio,
    rasa: ScriptedRasa,
    worker: Worker,
    sender: str,
    channel: str,
) -> None:
    rasa.answer("hello", HOW_CAN_I_HELP)
    rasa.answer("/request_human", {"text": "OK. A caseworker will answer you here."})

    conversation_id = await converse(
        client, state, worker, inbound_message(sender, "hello", sid=sid(20))
    )

    [notice, menu] = fake_twilio.sent()
    assert notice.params["Body"] == FIRST_ANSWER_EN
    assert menu.params["To"] == sender
    assert menu.params["Body"] == (
        "How can I help you? Choose one, or write your question in your own words.\n\n"
        "Reply 1 for My rights at work\n"
        "Reply 2 for Talk to a person\n"
        "Reply 3 for Change language"
    )

    await converse(client, state, worker, inbound_message(sender, " 2 ", sid=sid(21)))

    assert [text for text, _metadata in rasa.received] == ["hello", "/request_human"]
    assert rasa.received[0][1] == {
        "channel": channel,
        "language": "en",
        "country": "LB" if channel == "sms" else "PH",
        "message_id": rows(state, direction="in")[0].id,
    }
    assert fake_twilio.sent()[-1].params["Body"] == "OK. A caseworker will answer you here."
    # The person's own words stay as they wrote them; the menu is no longer current.
    assert [m.body for m in rows(state, direction="in")] == ["hello", " 2 "]
    with state.db.session() as session:
        assert session.get(Conversation, conversation_id).last_menu is None  # type: ignore[union-attr]


async def test_a_number_after_a_plain_answer_is_just_a_number(
    client: httpx.AsyncClient, state: AppState, rasa: ScriptedRasa, worker: Worker
) -> None:
    rasa.answer("hello", HOW_CAN_I_HELP)
    rasa.answer("/faq", {"text": "How many hours do you work a day?"})

    for n, text_ in enumerate(["hello", "1", "14"]):
        await converse(client, state, worker, inbound_message(AMINA_SMS, text_, sid=sid(30 + n)))

    assert [t for t, _m in rasa.received] == ["hello", "/faq", "14"]


async def test_arabic_over_sms_is_split_into_numbered_ucs2_parts(
    client: httpx.AsyncClient,
    state: AppState,
    fake_twilio: FakeTwilio,
    rasa: ScriptedRasa,
    worker: Worker,
) -> None:
    answer = " ".join(["يحق لك الحصول على أجرك كاملا في موعده كل شهر."] * 12)
    rasa.answer("مرحبا", {"text": answer})

    await converse(client, state, worker, inbound_message(AMINA_SMS, "مرحبا", sid=sid(40)))

    notice, *bodies = [r.params["Body"] for r in fake_twilio.sent()]
    assert notice == FIRST_ANSWER_EN
    assert [b.split(" ", 1)[0] for b in bodies] == ["(1/3)", "(2/3)", "(3/3)"]
    assert all(len(b.encode("utf-16-le")) // 2 <= 4 * 67 - 3 for b in bodies)
    assert " ".join(b.split(" ", 1)[1] for b in bodies) == answer
    assert [m.status for m in rows(state, direction="out")] == ["sent"] * 4


async def test_a_10000_character_message_is_stored_whole_and_rasa_reads_the_beginning(
    client: httpx.AsyncClient, state: AppState, rasa: ScriptedRasa, worker: Worker
) -> None:
    long_text = ODD_TEXTS["10000-characters"]

    await converse(client, state, worker, inbound_message(AMINA_WHATSAPP, long_text, sid=sid(50)))

    assert len(long_text) == 10_002
    assert [m.body for m in rows(state, direction="in")] == [long_text]
    assert [t for t, _m in rasa.received] == [long_text[:MAX_BOT_TEXT]]


async def test_a_voice_note_gets_the_written_messages_answer(
    client: httpx.AsyncClient,
    state: AppState,
    fake_twilio: FakeTwilio,
    rasa: ScriptedRasa,
    worker: Worker,
) -> None:
    form = inbound_message(AMINA_WHATSAPP, "", sid=sid(60), media=[("https://m/v", "audio/ogg")])

    await converse(client, state, worker, form)

    assert rasa.received == []
    [_notice, reply] = fake_twilio.sent()
    assert reply.params["Body"].startswith("I can only read written messages.")


def test_twilio_channels_declare_their_differences_as_data() -> None:
    assert (SmsChannel.limits.max_segments, SmsChannel.limits.number_parts) == (4, True)
    assert (WhatsAppChannel.limits.max_chars, WhatsAppChannel.limits.reply_window_hours) == (
        1600,
        24,
    )
    assert not SmsChannel.limits.supports_buttons and not WhatsAppChannel.limits.supports_buttons
    assert {"From", "Body", "MediaUrl0"} <= set(SmsChannel.limits.redact_fields)


# Attachments for the caseworker ----------------------------------------------------------


async def test_an_attachment_is_fetched_with_the_accounts_credentials(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    url = fake_twilio.add_media("audio/ogg", b"OggS voice note")

    fetched = await state.channels["whatsapp"].fetch_media(Media("audio", "audio/ogg", url))

    assert fetched == Fetched("audio/ogg", b"OggS voice note")
    first, _redirected = fake_twilio.recorded()
    assert first.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    "media",
    [
        Media("image", "image/jpeg", "https://evil.example/steal-credentials"),
        Media("location", None, "geo:33.89,35.50"),
        Media("image", "image/jpeg", None),
    ],
    ids=["not-a-twilio-url", "location", "no-url"],
)
async def test_what_is_not_a_twilio_media_file_is_never_fetched(
    state: AppState, fake_twilio: FakeTwilio, media: Media
) -> None:
    with pytest.raises(MediaUnavailable):
        await state.channels["sms"].fetch_media(media)

    assert fake_twilio.recorded() == []


async def test_a_media_file_that_is_gone_is_unavailable(
    state: AppState, fake_twilio: FakeTwilio
) -> None:
    url = fake_twilio.add_media("image/jpeg", b"...").rsplit("/", 1)[0] + "/ME" + "f" * 32

    with pytest.raises(MediaUnavailable, match="HTTP 404"):
        await state.channels["sms"].fetch_media(Media("image", "image/jpeg", url))


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+96170123456", "LB"),
        ("+639171234567", "PH"),
        ("+14165551234", "CA"),
        ("+15005550006", "US"),
        ("+2519111", "ET"),
        ("+80012345678", None),
        ("VODAFONE", None),
    ],
    ids=[
        "lebanon",
        "philippines",
        "canada",
        "plus-one-unassigned",
        "short-ethiopian",
        "global",
        "alphanumeric",
    ],
)
def test_the_country_hint_comes_from_the_calling_code(number: str, country: str | None) -> None:
    assert country_of(number) == country
