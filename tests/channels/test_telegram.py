from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import httpx
import pytest

from bot import cases, cli, outbox
from bot.app_state import AppState
from bot.config import Settings
from bot.errors import HelplineError, MediaUnavailable
from bot.models import Conversation
from bot.worker import Worker
from channels.base import Choice, Fetched, Media, Outgoing
from channels.pacing import Pacer
from channels.telegram import Command, TelegramChannel, command
from tests.helpers import factories
from tests.helpers.fake_http import Fault
from tests.helpers.fake_telegram import (
    BOT_USER,
    FakeTelegram,
    callback_update,
    failure,
    message,
    text_update,
)
from tests.helpers.providers import (
    ODD_TEXTS,
    PUBLIC_BASE_URL,
    TELEGRAM_SECRET,
    ScriptedRasa,
    case_events,
    contact_of,
    eventually,
    new_conversation,
    queue,
    rows,
)

# python-telegram-bot warns about its own use of RetryAfter.retry_after.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
AMINA = 700100200
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LANGUAGES = (
    Choice("English", '/choose_language{"language":"en"}'),
    Choice("العربية", '/choose_language{"language":"ar"}'),
    Choice("नेपाली", '/choose_language{"language":"ne"}'),
)
LONG_PAYLOAD = '/faq{"topic":"recruitment_fees","country":"LB","note":"a payload over 64 bytes"}'


async def post(
    client: httpx.AsyncClient, update: Any, *, secret: str | None = TELEGRAM_SECRET
) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    content = update if isinstance(update, bytes) else json.dumps(update).encode()
    return await client.post(
        "/webhooks/telegram",
        content=content,
        headers=headers | {"Content-Type": "application/json"},
    )


def stored(state: AppState) -> list[tuple[str | None, str | None]]:
    return [(m.provider_id, m.body) for m in rows(state, direction="in")]


async def converse(
    client: httpx.AsyncClient, state: AppState, worker: Worker, update: dict[str, Any]
) -> int:
    """The person writes or presses; the worker handles their conversation. Returns its id."""
    assert (await post(client, update)).status_code == 200
    provider_id = f"tg-update-{update['update_id']}"
    conversation_id = rows(state, provider_id=provider_id)[0].conversation_id
    await worker.handle_conversation(conversation_id)
    return conversation_id


# Inbound -------------------------------------------------------------------------------


async def test_a_text_message_is_stored_with_the_senders_language_as_a_hint(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await post(client, text_update(10, AMINA, "Kumusta po", language_code="fil"))

    assert response.status_code == 200
    [row] = rows(state)
    assert (row.channel, row.provider_id, row.body, row.status) == (
        "telegram",
        "tg-update-10",
        "Kumusta po",
        "received",
    )
    contact = contact_of(state, row.conversation_id)
    assert (contact.address, contact.language) == (str(AMINA), "tl")


@pytest.mark.parametrize(
    "secret",
    [None, "", "wrong", TELEGRAM_SECRET.upper(), TELEGRAM_SECRET[:-1], TELEGRAM_SECRET + "x"],
    ids=["missing", "empty", "wrong", "other-case", "prefix", "longer"],
)
async def test_a_wrong_secret_token_is_refused_and_logged_without_content(
    client: httpx.AsyncClient,
    state: AppState,
    caplog: pytest.LogCaptureFixture,
    secret: str | None,
) -> None:
    with caplog.at_level(logging.INFO):
        response = await post(client, text_update(11, AMINA, "they hit me"), secret=secret)

    assert response.status_code == 403
    assert rows(state) == []
    assert "telegram webhook refused" in caplog.text
    assert "hit me" not in caplog.text and str(AMINA) not in caplog.text


async def test_a_repeated_update_is_stored_once_and_late_ones_are_kept(
    client: httpx.AsyncClient, state: AppState
) -> None:
    for update_id, text in [(21, "second"), (20, "first"), (21, "second"), (20, "first")]:
        assert (await post(client, text_update(update_id, AMINA, text))).status_code == 200

    assert stored(state) == [("tg-update-21", "second"), ("tg-update-20", "first")]


async def test_an_edited_message_is_a_new_message(
    client: httpx.AsyncClient, state: AppState
) -> None:
    edited = {
        "update_id": 31,
        "edited_message": message(AMINA, 1, text="I meant: my passport", edit_date=1),
    }

    await post(client, text_update(30, AMINA, "my pasport"))
    await post(client, edited)

    assert stored(state) == [
        ("tg-update-30", "my pasport"),
        ("tg-update-31", "I meant: my passport"),
    ]


async def test_a_button_press_is_stored_as_its_payload_and_answered(
    client: httpx.AsyncClient, state: AppState, fake_telegram: FakeTelegram
) -> None:
    response = await post(client, callback_update(40, AMINA, "/request_human"))

    assert response.status_code == 200
    assert stored(state) == [("tg-update-40", "/request_human")]
    await eventually(lambda: fake_telegram.calls("answerCallbackQuery"))
    [answer] = fake_telegram.calls("answerCallbackQuery")
    assert answer.params == {"callback_query_id": "cbq-40"}


@pytest.mark.parametrize(
    ("text", "payload", "language"),
    [
        ("/start", "/greet", "en"),
        ("/start ar", "/greet", "ar"),
        ("/start lang-ne", "/greet", "ne"),
        ("/start org-42", "/greet", "en"),
        ("/start@helpline_test_bot", "/greet", "en"),
        ("/help", "/greet", "en"),
        ("/language", "/choose_language", "en"),
        ("/delete", "/erase_data", "en"),
        ("/stop", "/stop", "en"),
        ("/passport", "passport", "en"),
    ],
    ids=[
        "start",
        "start-deep-link-language",
        "start-deep-link-lang-prefix",
        "start-deep-link-organisation",
        "start-addressed-to-the-bot",
        "help",
        "language",
        "delete",
        "stop",
        "unknown-command",
    ],
)
async def test_commands_become_the_payloads_rasa_understands(
    client: httpx.AsyncClient, state: AppState, text: str, payload: str, language: str
) -> None:
    await post(client, text_update(50, AMINA, text, language_code="en"))

    [row] = rows(state)
    assert row.body == payload
    assert contact_of(state, row.conversation_id).language == language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start ar", Command("/greet", "ar")),
        ("/start lang_ne", Command("/greet", "ne")),
        ("/start org-42", Command("/greet", None, 42)),
        ("/start org-42-am", Command("/greet", "am", 42)),
        ("/start org_7_lang-fil", Command("/greet", "tl", 7)),
        ("/start xx", Command("/greet")),
        ("/start org-", Command("/greet")),
        ("/start ../../etc", Command("/greet")),
        ("/help org-42", Command("/greet")),
    ],
    ids=[
        "language",
        "lang-prefix",
        "organisation",
        "organisation-and-language",
        "organisation-and-alias",
        "unknown-language",
        "organisation-without-id",
        "not-a-deep-link",
        "only-start-reads-a-link",
    ],
)
def test_a_start_deep_link_names_a_language_an_organisation_or_both(
    text: str, expected: Command
) -> None:
    assert command(text) == expected


@pytest.mark.parametrize("exists", [True, False], ids=["known-organisation", "unknown-id"])
async def test_an_organisation_link_sends_the_persons_cases_to_it(
    client: httpx.AsyncClient, state: AppState, exists: bool
) -> None:
    with state.db.session() as session:
        factories.organisation(session, "Arabic desk", languages=["ar"])
        partner = factories.organisation(session, "Partner", countries=["LB"]).id
    link = partner if exists else partner + 100

    await post(client, text_update(310, AMINA, f"/start org-{link}-ar"))

    [row] = rows(state)
    with state.db.session() as session:
        conv = session.get(Conversation, row.conversation_id)
        assert conv is not None
        assert conv.organisation_id == (partner if exists else None)
        opened = cases.open_case(
            session, conv, reason="request_human", priority="request", channel="telegram"
        )
        assert opened.case.organisation.name == ("Partner" if exists else "Arabic desk")


UNTAKEN = {
    "poll": {"poll": {"id": "1", "question": "?", "options": [], "is_closed": False}},
    "my-chat-member": {
        "my_chat_member": {
            "chat": {"id": AMINA, "type": "private"},
            "from": {"id": AMINA, "is_bot": False, "first_name": "Amina"},
            "date": 1,
            "old_chat_member": {"status": "member", "user": BOT_USER},
            "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
        }
    },
    "inline-query": {
        "inline_query": {
            "id": "9",
            "from": {"id": AMINA, "is_bot": False, "first_name": "Amina"},
            "query": "my secret words",
            "offset": "",
        }
    },
    "future-type": {"business_wish": {"text": "my secret words"}},
    "nothing": {},
    "group-message": {
        "message": message(AMINA, 1, text="my secret words")
        | {"chat": {"id": -100, "type": "supergroup", "title": "Workers"}}
    },
    "message-without-text": {"message": message(AMINA, 1)},
    "empty-text": {"message": message(AMINA, 1, text="  ")},
    "game-button": {
        "callback_query": callback_update(0, AMINA, "x")["callback_query"]
        | {"data": None, "game_short_name": "g"}
    },
}


@pytest.mark.parametrize("update", UNTAKEN.values(), ids=UNTAKEN.keys())
async def test_updates_the_helpline_does_not_take_are_acknowledged_and_logged_without_content(
    client: httpx.AsyncClient,
    state: AppState,
    caplog: pytest.LogCaptureFixture,
    update: dict[str, Any],
) -> None:
    with caplog.at_level(logging.INFO):
        response = await post(client, {"update_id": 60} | update)

    assert response.status_code == 200
    assert rows(state) == []
    assert "my secret words" not in caplog.text and str(AMINA) not in caplog.text


BAD = {
    "not-json": b"{update_id: 1",
    "not-utf8": b'{"update_id": 1, "message": "\xff\xfe"}',
    "a-list": b"[1, 2]",
    "no-update-id": json.dumps({"message": message(AMINA, 1, text="hi")}).encode(),
    "update-id-not-a-number": json.dumps({"update_id": "1"}).encode(),
    "update-id-true": json.dumps({"update_id": True}).encode(),
    "message-without-chat": json.dumps({"update_id": 1, "message": {"text": "hi"}}).encode(),
    "lone-surrogate": b'{"update_id": 1, "message": {"text": "\\ud800"}}',
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
async def test_a_body_that_is_not_an_update_is_a_bad_request(
    client: httpx.AsyncClient, state: AppState, body: bytes
) -> None:
    response = await post(client, body)

    assert response.status_code == 400
    assert rows(state) == []


async def test_an_oversized_update_is_refused(client: httpx.AsyncClient, state: AppState) -> None:
    response = await post(client, text_update(70, AMINA, "x" * (2 * 1024 * 1024)))

    assert response.status_code == 413
    assert rows(state) == []


@pytest.mark.parametrize("text", ODD_TEXTS.values(), ids=ODD_TEXTS.keys())
async def test_any_text_is_stored_exactly(
    client: httpx.AsyncClient, state: AppState, text: str
) -> None:
    assert (await post(client, text_update(80, AMINA, text))).status_code == 200

    assert stored(state) == [("tg-update-80", text)]


FILE = {"file_id": "AgAD-file", "file_unique_id": "u1"}
MEDIA = {
    "photo-with-caption": (
        {
            "photo": [
                FILE | {"width": 90, "height": 90},
                FILE | {"file_id": "big", "width": 800, "height": 800},
            ],
            "caption": "my room",
        },
        [("image", "image/jpeg", "tg-file:big")],
        "my room",
    ),
    "voice-note": (
        {"voice": FILE | {"duration": 4, "mime_type": "audio/ogg"}},
        [("audio", "audio/ogg", "tg-file:AgAD-file")],
        None,
    ),
    "audio": (
        {"audio": FILE | {"duration": 4, "mime_type": "audio/mpeg"}},
        [("audio", "audio/mpeg", "tg-file:AgAD-file")],
        None,
    ),
    "video": (
        {"video": FILE | {"duration": 4, "width": 1, "height": 1, "mime_type": "video/mp4"}},
        [("video", "video/mp4", "tg-file:AgAD-file")],
        None,
    ),
    "video-note": (
        {"video_note": FILE | {"duration": 4, "length": 240}},
        [("video", None, "tg-file:AgAD-file")],
        None,
    ),
    "document": (
        {"document": FILE | {"file_name": "contract.pdf", "mime_type": "application/pdf"}},
        [("document", "application/pdf", "tg-file:AgAD-file")],
        None,
    ),
    "gif": (
        {
            "animation": FILE | {"duration": 1, "width": 1, "height": 1, "mime_type": "video/mp4"},
            "document": FILE | {"mime_type": "video/mp4"},
        },
        [("video", "video/mp4", "tg-file:AgAD-file")],
        None,
    ),
    "sticker": (
        {
            "sticker": FILE
            | {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        [("sticker", "image/webp", "tg-file:AgAD-file")],
        None,
    ),
    "animated-sticker": (
        {
            "sticker": FILE
            | {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": True,
                "is_video": False,
            }
        },
        [("sticker", "application/x-tgsticker", "tg-file:AgAD-file")],
        None,
    ),
    "location": (
        {"location": {"latitude": 33.8938, "longitude": 35.5018}},
        [("location", None, "geo:33.8938,35.5018")],
        None,
    ),
    "venue": (
        {
            "location": {"latitude": 33.8938, "longitude": 35.5018},
            "venue": {
                "location": {"latitude": 33.8938, "longitude": 35.5018},
                "title": "Embassy",
                "address": "Beirut",
            },
        },
        [("location", None, "geo:33.8938,35.5018")],
        None,
    ),
    "contact": (
        {"contact": {"phone_number": "+96170999999", "first_name": "Friend"}},
        [("other", "text/vcard", None)],
        None,
    ),
}


@pytest.mark.parametrize(("fields", "media", "caption"), MEDIA.values(), ids=MEDIA.keys())
async def test_every_attachment_becomes_media_kept_inside_the_encrypted_payload(
    client: httpx.AsyncClient,
    state: AppState,
    fields: dict[str, Any],
    media: list[tuple[str, str | None, str | None]],
    caption: str | None,
) -> None:
    update = {"update_id": 90, "message": message(AMINA, 1, **fields)}

    assert (await post(client, update)).status_code == 200

    [row] = rows(state)
    assert row.body == caption
    assert [
        (m["kind"], m["content_type"], m["url"]) for m in json.loads(row.payload or "{}")["media"]
    ] == media


# Outbound ------------------------------------------------------------------------------


def conversation(state: AppState, *, with_case: bool = False) -> int:
    return new_conversation(state, "telegram", str(AMINA), with_case=with_case)


def channel(state: AppState) -> TelegramChannel:
    found = state.channels["telegram"]
    assert isinstance(found, TelegramChannel)
    return found


async def test_choices_are_an_inline_keyboard_and_long_payloads_travel_as_keys(
    state: AppState, fake_telegram: FakeTelegram
) -> None:
    choices = (*LANGUAGES, Choice("Recruitment fees", LONG_PAYLOAD))
    conv = conversation(state)
    [message_id] = queue(state, conv, *channel(state).render(Outgoing("Which language?", choices)))

    assert await outbox.deliver(state, message_id) == "sent"

    [sent] = fake_telegram.sent()
    assert (sent.params["chat_id"], sent.params["text"]) == (str(AMINA), "Which language?")
    keyboard = json.loads(sent.params["reply_markup"])["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == [c.title for c in choices]
    data = [row[0]["callback_data"] for row in keyboard]
    assert data[:3] == [c.payload for c in LANGUAGES]
    assert data[3].startswith("#") and len(data[3].encode()) <= 64
    [row] = rows(state, id=message_id)
    assert row.status == "sent"
    assert row.provider_id is not None and row.provider_id.endswith("-1000")
    assert str(AMINA) not in row.provider_id


async def test_a_long_answer_is_split_within_4096_utf16_units(
    state: AppState, fake_telegram: FakeTelegram
) -> None:
    text = "🙏 You have the right to keep your passport. " * 120
    parts = channel(state).render(Outgoing(text.strip()))
    ids = queue(state, conversation(state), *parts)

    await outbox.deliver_all(state, ids)

    assert len(parts) == 2
    assert [r.status for r in rows(state, direction="out")] == ["sent", "sent"]
    assert all(len(r.params["text"].encode("utf-16-le")) // 2 <= 4096 for r in fake_telegram.sent())


@pytest.mark.parametrize(
    ("description", "error", "unreachable"),
    [
        ("Bad Request: chat not found", "telegram: refused (400): Chat not found", True),
        (
            "Bad Request: can't parse entities at byte 1234567",
            "telegram: refused (400): Can't parse entities at byte …",
            False,
        ),
    ],
    ids=["chat-not-found", "other-refusal"],
)
async def test_a_refusal_is_permanent_and_a_missing_chat_makes_the_person_unreachable(
    state: AppState, fake_telegram: FakeTelegram, description: str, error: str, unreachable: bool
) -> None:
    fake_telegram.fail_next(Fault.answer(400, failure(400, description)))
    conv = conversation(state, with_case=True)
    [message_id] = queue(state, conv, Outgoing("Hello."))

    assert await outbox.deliver(state, message_id) == "failed"

    assert len(fake_telegram.sent()) == 1
    assert [(r.status, r.error) for r in rows(state, id=message_id)] == [("failed", error)]
    assert case_events(state)[-1] == ("delivery_failed", {"message_id": message_id, "error": error})
    assert contact_of(state, conv).unreachable is unreachable


# A conversation through the worker -------------------------------------------------------


async def test_a_scripted_conversation_gets_inline_keyboards_and_presses_mean_choices(
    client: httpx.AsyncClient,
    state: AppState,
    fake_telegram: FakeTelegram,
    rasa: ScriptedRasa,
    worker: Worker,
) -> None:
    buttons = [{"title": c.title, "payload": c.payload} for c in LANGUAGES]
    rasa.answer("/greet", {"text": "Hello. Which language?", "buttons": buttons})
    rasa.answer(
        '/choose_language{"language":"ar"}',
        {"custom": {"helpline": {"set_language": "ar"}}},
        {
            "text": "حسنا.",
            "buttons": [{"title": "رسوم التوظيف", "payload": LONG_PAYLOAD}],
        },
    )

    conversation_id = await converse(client, state, worker, text_update(200, AMINA, "/start ne"))

    [notice, greeting] = fake_telegram.sent()
    # The first answer to a new person says, in their language, how to erase the chat.
    assert '"मेटाउ"' in notice.params["text"]
    assert greeting.params["text"] == "Hello. Which language?"
    keyboard = json.loads(greeting.params["reply_markup"])["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [c.payload for c in LANGUAGES]

    await converse(
        client, state, worker, callback_update(201, AMINA, keyboard[1][0]["callback_data"])
    )
    key = json.loads(fake_telegram.sent()[-1].params["reply_markup"])["inline_keyboard"][0][0]
    await converse(client, state, worker, callback_update(202, AMINA, key["callback_data"]))

    assert [text for text, _metadata in rasa.received] == [
        "/greet",
        '/choose_language{"language":"ar"}',
        LONG_PAYLOAD,
    ]
    assert rasa.received[0][1] == {
        "channel": "telegram",
        "language": "ne",
        "country": None,
        "message_id": rows(state, direction="in")[0].id,
    }
    assert rasa.received[2][1]["language"] == "ar"
    await eventually(lambda: len(fake_telegram.calls("answerCallbackQuery")) == 2)
    with state.db.session() as session:
        conv = session.get(Conversation, conversation_id)
        assert conv is not None and conv.language == "ar"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/start lang-am", "am"), ("/start", "ar"), ("/start xx", "ar")],
    ids=["deep-link-language", "no-deep-link", "unknown-language"],
)
async def test_a_deep_link_language_switches_a_known_persons_conversation(
    client: httpx.AsyncClient,
    state: AppState,
    rasa: ScriptedRasa,
    worker: Worker,
    text: str,
    expected: str,
) -> None:
    conversation_id = new_conversation(state, "telegram", str(AMINA))
    with state.db.session() as session:
        conv = session.get(Conversation, conversation_id)
        assert conv is not None
        conv.language = conv.contact.language = "ar"

    await converse(client, state, worker, text_update(300, AMINA, text, language_code="en"))

    [inbound] = rows(state, direction="in")
    assert rasa.received == [
        (
            "/greet",
            {
                "channel": "telegram",
                "language": expected,
                "country": None,
                "message_id": inbound.id,
            },
        )
    ]
    with state.db.session() as session:
        conv = session.get(Conversation, conversation_id)
        assert conv is not None and (conv.language, conv.contact.language) == (expected, expected)


# Registering the webhook -----------------------------------------------------------------


def test_set_webhook_registers_the_url_the_secret_and_the_update_types(
    provider_environ: dict[str, str],
    fake_telegram: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.load(provider_environ, env_file=None)

    assert cli.cmd_telegram_set_webhook(settings, argparse.Namespace(url=None)) == 0

    assert fake_telegram.webhook == {
        "url": f"{PUBLIC_BASE_URL}/webhooks/telegram",
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    assert f"{PUBLIC_BASE_URL}/webhooks/telegram" in capsys.readouterr().out
    assert [r.path.rsplit("/", 1)[-1] for r in fake_telegram.recorded()] == ["getMe", "setWebhook"]


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ({"PUBLIC_BASE_URL": "http://localhost:8000"}, "(?i)https url must be provided"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has spaces and é"}, "A-Z, a-z, 0-9, _ and -"),
    ],
    ids=["not-https", "secret-with-forbidden-characters"],
)
def test_set_webhook_says_what_is_wrong(
    provider_environ: dict[str, str], change: dict[str, str], message_part: str
) -> None:
    settings = Settings.load(provider_environ | change, env_file=None)

    with pytest.raises(HelplineError, match=message_part):
        cli.cmd_telegram_set_webhook(settings, argparse.Namespace(url=None))


def test_the_command_line_knows_set_webhook() -> None:
    args = cli.build_parser().parse_args(["telegram", "set-webhook", "--url", "https://x/y"])

    assert (args.func, args.url) == (cli.cmd_telegram_set_webhook, "https://x/y")


async def test_parts_to_one_chat_are_paced_as_telegram_asks(
    state: AppState, fake_telegram: FakeTelegram
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    bot = channel(state)
    assert bot.limits.pace is not None
    bot._pacer = Pacer(bot.limits.pace, clock=lambda: 0.0, sleep=sleep)
    ids = queue(state, conversation(state), *[Outgoing(f"Part {n}.") for n in range(5)])

    await outbox.deliver_all(state, ids)

    assert [r.params["text"] for r in fake_telegram.sent()] == [f"Part {n}." for n in range(5)]
    assert slept == [1.0, 2.0]


# Attachments for the caseworker ----------------------------------------------------------


async def test_a_file_is_fetched_through_get_file(
    state: AppState, fake_telegram: FakeTelegram
) -> None:
    file_id = fake_telegram.add_file(b"OggS voice note", "voice/file_7.oga")

    fetched = await channel(state).fetch_media(Media("audio", "audio/ogg", f"tg-file:{file_id}"))

    assert fetched == Fetched("audio/ogg", b"OggS voice note")
    assert [c.params for c in fake_telegram.calls("getFile")] == [{"file_id": file_id}]


@pytest.mark.parametrize(
    "media",
    [Media("audio", "audio/ogg", "tg-file:unknown"), Media("location", None, "geo:1,2")],
    ids=["unknown-file", "location"],
)
async def test_what_is_not_a_telegram_file_is_unavailable(state: AppState, media: Media) -> None:
    with pytest.raises(MediaUnavailable):
        await channel(state).fetch_media(media)
