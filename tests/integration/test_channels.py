"""Conversations over SMS, WhatsApp and Telegram, through the provider fakes, with Rasa for real.

The helpline runs as in production (Rasa with the trained model, the action server,
``helpline serve``) with TWILIO_API_BASE_URL and TELEGRAM_API_BASE_URL pointing at
the fakes. People write through signed Twilio webhooks and Telegram updates carrying
the secret; what they get back is read from what the fakes received, and checked
against the catalogues' text in their language as each medium must carry it.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.i18n import Catalogs, _, install
from bot.nlg import NLG
from channels import sms
from channels.twilio import EMPTY_TWIML
from tests.helpers.fake_http import Recorded
from tests.helpers.fake_telegram import (
    BOT_TOKEN,
    FakeTelegram,
    callback_update,
    message,
    text_update,
)
from tests.helpers.fake_twilio import (
    AUTH_TOKEN,
    FakeTwilio,
    inbound_message,
    signature,
)
from tests.helpers.providers import SMS_FROM, TELEGRAM_SECRET, WHATSAPP_FROM, provider_settings
from tests.helpers.stack import ROOT, Stack, first_answer, free_port, running

pytestmark = pytest.mark.rasa

SMS_SEGMENT_BUDGET = 4
PART_NUMBER = re.compile(r"\((\d+)/(\d+)\) ")
LANGUAGES = [
    ("English", "en"),
    ("العربية", "ar"),
    ("Français", "fr"),
    ("Español", "es"),
    ("Tagalog", "tl"),
    ("Bahasa Indonesia", "id"),
    ("नेपाली", "ne"),
    ("አማርኛ", "am"),
]
MEDIA_ANSWER = (
    "I can only read written messages. Please write your question in words. "
    'To talk to a person, write "person".'
)


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    # Delivery reports go back to the helpline, signed, as Twilio's do.
    with FakeTwilio(callbacks=True) as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> Iterator[Stack]:
    port = free_port()
    providers = {"HELPLINE_PORT": str(port)} | provider_settings(
        f"http://127.0.0.1:{port}", fake_twilio.url, fake_telegram.url
    )
    with running(tmp_path_factory.mktemp("channels"), providers) as started:
        yield started


@pytest.fixture(scope="module")
def nlg() -> NLG:
    catalogs = Catalogs(ROOT / "locales")
    install(catalogs)
    return NLG(ROOT, catalogs)


def wait_for(found: Any, count: int, timeout: float = 60.0) -> list[Any]:
    """Poll ``found()`` until it holds ``count`` items."""
    deadline = time.monotonic() + timeout
    while len(items := found()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(items)} of {count} expected: {items}")
        time.sleep(0.1)
    return list(items)


class TwilioPerson:
    """Someone writing by SMS or WhatsApp: signed webhooks in, the fake's records out."""

    def __init__(self, stack: Stack, fake: FakeTwilio, sender: str) -> None:
        self.stack, self.fake, self.sender = stack, fake, sender
        self.seen = 0

    def say(self, body: str | None, **extra: Any) -> None:
        form = inbound_message(
            self.sender,
            body,
            to=WHATSAPP_FROM if self.sender.startswith("whatsapp:") else SMS_FROM,
            **extra,
        )
        url = f"{self.stack.base}/webhooks/twilio"
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature(url, form)})
        assert (response.status_code, response.text) == (200, EMPTY_TWIML)

    def _mine(self) -> list[Recorded]:
        return [r for r in self.fake.sent() if r.params.get("To") == self.sender]

    def replies(self, count: int) -> list[str]:
        """The next ``count`` message bodies sent to this person, in order."""
        sent = wait_for(self._mine, self.seen + count)
        new, self.seen = sent[self.seen : self.seen + count], self.seen + count
        assert all(
            r.params["From"].removeprefix("whatsapp:") in {SMS_FROM, WHATSAPP_FROM} for r in new
        )
        return [str(r.params["Body"]) for r in new]

    def answer(self) -> list[str]:
        """The parts of the next answer: one, or all the parts "(1/n)" announces."""
        first = self.replies(1)
        numbered = PART_NUMBER.match(first[0])
        return first + (self.replies(int(numbered[2]) - 1) if numbered else [])

    def nothing_more(self) -> None:
        time.sleep(1.0)
        assert len(self._mine()) == self.seen


class TelegramPerson:
    """Someone in a private chat with the bot: updates with the secret in, the fake's calls out."""

    update_ids = itertools.count(5000)

    def __init__(
        self, stack: Stack, fake: FakeTelegram, chat_id: int, language_code: str | None
    ) -> None:
        self.stack, self.fake, self.chat_id = stack, fake, chat_id
        self.language_code = language_code
        self.seen = 0

    def post(self, update: dict[str, Any]) -> None:
        response = httpx.post(
            f"{self.stack.base}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert response.status_code == 200

    def write(self, text: str) -> None:
        update_id = next(self.update_ids)
        self.post(text_update(update_id, self.chat_id, text, language_code=self.language_code))

    def press(self, data: str) -> str:
        """Press a button; returns the callback query's id."""
        update = callback_update(
            next(self.update_ids), self.chat_id, data, language_code=self.language_code
        )
        self.post(update)
        return str(update["callback_query"]["id"])

    def send(self, **fields: Any) -> None:
        update_id = next(self.update_ids)
        self.post(
            {
                "update_id": update_id,
                "message": message(
                    self.chat_id, update_id, language_code=self.language_code, **fields
                ),
            }
        )

    def _mine(self) -> list[Recorded]:
        return [r for r in self.fake.sent() if str(r.params.get("chat_id")) == str(self.chat_id)]

    def replies(self, count: int) -> list[tuple[str, list[tuple[str, str]]]]:
        """The next ``count`` messages: text and inline keyboard (title, callback data)."""
        sent = wait_for(self._mine, self.seen + count)
        new, self.seen = sent[self.seen : self.seen + count], self.seen + count
        return [(str(r.params["text"]), keyboard(r.params.get("reply_markup"))) for r in new]

    def nothing_more(self) -> None:
        time.sleep(1.0)
        assert len(self._mine()) == self.seen


def keyboard(markup: Any) -> list[tuple[str, str]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard", [])
    return [(button["text"], button["callback_data"]) for row in rows for button in row]


def menu(language: str, titles: list[str]) -> str:
    return "\n".join(
        _(language, "Reply {number} for {title}", number=n, title=title)
        for n, title in enumerate(titles, start=1)
    )


def joined_sms(parts: list[str]) -> str:
    """The parts of one SMS answer read together, after checking what each part must be.

    Each part costs at most the segment budget; a split answer numbers its parts
    "(1/n)".."(n/n)" in order. Parts are cut at sentence or word boundaries, so the
    whitespace between two parts is not carried: compare with whitespace normalised.
    """
    for part in parts:
        assert sms.segments(part) <= SMS_SEGMENT_BUDGET, part
    if len(parts) > 1:
        numbers = [PART_NUMBER.match(part) for part in parts]
        assert [(m[1], m[2]) if m else None for m in numbers] == [
            (str(n), str(len(parts))) for n in range(1, len(parts) + 1)
        ]
        parts = [PART_NUMBER.sub("", part, count=1) for part in parts]
    return " ".join(" ".join(parts).split())


def words(text: str) -> str:
    return " ".join(text.split())


def test_sms_in_arabic_a_numbered_menu_a_long_answer_and_a_photo(
    stack: Stack, fake_twilio: FakeTwilio, nlg: NLG
) -> None:
    person = TwilioPerson(stack, fake_twilio, "+96170123456")  # Lebanon

    def expected(response: str, language: str) -> str:
        return nlg.render(response, language=language, country="LB", channel="sms").text

    # "language" offers every language as a numbered menu: Arabic titles make it UCS-2.
    person.say("language")
    assert person.replies(1) == [first_answer()]
    parts = person.answer()
    titles = [title for title, _code in LANGUAGES]
    assert joined_sms(parts) == words(
        f"{expected('utter_choose_language', 'en')} {menu('en', titles)}"
    )
    assert sms.encoding(parts[-1]) == sms.UCS2

    # "2" is the second line of that menu: Arabic.
    person.say("2")
    [confirmation] = person.replies(1)
    assert confirmation == expected("utter_language_set", "ar")
    assert sms.encoding(confirmation) == sms.UCS2

    # A rights question in Arabic: an answer longer than the budget, in numbered parts.
    person.say("مين بيدفع المستشفى")
    answer = expected("utter_faq/health_care", "ar")
    assert sms.segments(answer) > SMS_SEGMENT_BUDGET
    parts = person.answer()
    assert len(parts) > 1
    assert joined_sms(parts) == words(answer)
    assert all(sms.encoding(part) == sms.UCS2 for part in parts)

    # A photo without words (MMS): the person hears, in Arabic, what the bot can read.
    person.say(None, media=[(fake_twilio.add_media("image/jpeg", b"\xff\xd8 photo"), "image/jpeg")])
    [media_answer] = person.replies(1)
    assert media_answer == _("ar", MEDIA_ANSWER)
    assert media_answer != MEDIA_ANSWER
    person.nothing_more()

    # Nothing the person wrote, nor their number, reaches a log line.
    logged = stack.logged()
    for private in ("+96170123456", "96170123456", "مين بيدفع المستشفى"):
        assert private not in logged


def test_sms_in_nepali_travels_as_ucs2(stack: Stack, fake_twilio: FakeTwilio, nlg: NLG) -> None:
    person = TwilioPerson(stack, fake_twilio, "+9779812345678")  # Nepal
    person.say("change language")
    assert person.replies(1) == [first_answer()]
    person.answer()

    person.say("7")

    [confirmation] = person.replies(1)
    assert confirmation == nlg.render("utter_language_set", language="ne", channel="sms").text
    assert (sms.encoding(confirmation), sms.segments(confirmation)) == (sms.UCS2, 2)


def test_whatsapp_in_spanish_numbered_choices_a_person_and_an_attachment_for_the_case(
    stack: Stack, fake_twilio: FakeTwilio, nlg: NLG
) -> None:
    address = "whatsapp:+34612345678"
    person = TwilioPerson(stack, fake_twilio, address)
    supervisor = stack.user("Mesa de ayuda", "marta", "supervisor")

    def expected(response: str, language: str = "es") -> str:
        return nlg.render(response, language=language, country="ES", channel="whatsapp").text

    person.say("hola")
    assert person.replies(1) == [expected("utter_greet", "en")]

    # A tapped quick-reply button: its payload, not its text, is what counts.
    person.say("Español", ButtonPayload='/choose_language{"language":"es"}', ButtonText="Español")
    assert person.replies(1) == [expected("utter_language_set")]

    # A voice note in bot mode: answered in Spanish.
    voice = fake_twilio.add_media("audio/ogg", b"OggS nota de voz")
    person.say(None, media=[(voice, "audio/ogg")])
    assert person.replies(1) == [_("es", MEDIA_ANSWER)]

    # "si" with nothing asked offers the menu, as numbered choices in Spanish.
    person.say("si")
    titles = [b["title"] for b in nlg.render("utter_how_can_help", language="es").buttons]
    assert person.replies(1) == [f"{expected('utter_how_can_help')}\n\n{menu('es', titles)}"]

    # "2" is "Talk to a person": the bot asks before it shares anything.
    person.say("2")
    ask = nlg.render("utter_ask_share_with_caseworker", language="es", channel="whatsapp")
    choices = [b["title"] for b in ask.buttons]
    assert person.replies(1) == [
        f"{expected('utter_ask_share_with_caseworker')}\n\n{menu('es', choices)}"
    ]

    # "1" is "Yes, share it": the case opens and the bot steps back.
    person.say("1")
    assert person.replies(1) == [expected("utter_handoff")]

    # A photo now reaches the case; the bot says nothing.
    photo = b"\xff\xd8\xff\xe0 contrato"
    person.say("mi contrato", media=[(fake_twilio.add_media("image/jpeg", photo), "image/jpeg")])
    api = httpx.Client(base_url=f"{stack.base}/api/v1", headers=supervisor, timeout=30)
    deadline = time.monotonic() + 30
    while True:
        [case] = [c for c in api.get("/cases").json() if c["channel"] == "whatsapp"]
        detail = api.get(f"/cases/{case['id']}").json()
        with_media = [m for m in detail["transcript"] if m["media"]]
        if with_media and with_media[-1]["text"] == "mi contrato":
            break
        assert time.monotonic() < deadline, detail["transcript"]
        time.sleep(0.25)
    assert (case["language"], case["reason"]) == ("es", "request_human")
    message_id = with_media[-1]["id"]
    assert with_media[-1]["media"] == [{"n": 0, "kind": "image", "content_type": "image/jpeg"}]
    person.nothing_more()

    opened = api.get(f"/cases/{case['id']}/messages/{message_id}/media/0")
    assert (opened.status_code, opened.content, opened.headers["content-type"]) == (
        200,
        photo,
        "image/jpeg",
    )

    # The fake's delivery reports reached the helpline: the bot's answers are delivered.
    deadline = time.monotonic() + 30
    while True:
        outbound = [
            m
            for m in api.get(f"/cases/{case['id']}").json()["transcript"]
            if m["direction"] == "out"
        ]
        if outbound and all(m["status"] == "delivered" for m in outbound):
            break
        assert time.monotonic() < deadline, outbound
        time.sleep(0.25)

    logged = stack.logged()
    for private in ("34612345678", "mi contrato", "Amina", AUTH_TOKEN):
        assert private not in logged


def test_telegram_deep_link_keyboards_commands_and_a_voice_note(
    stack: Stack, fake_telegram: FakeTelegram, nlg: NLG
) -> None:
    person = TelegramPerson(stack, fake_telegram, 700100200, language_code="en")

    def expected(response: str, language: str) -> str:
        return nlg.render(response, language=language, channel="telegram").text

    # t.me/<bot>?start=lang-ne: the chat opens in Nepali, whatever the phone's language.
    person.write("/start lang-ne")
    assert person.replies(1) == [(expected("utter_greet", "ne"), [])]

    # /language: the languages as an inline keyboard, payloads as callback data.
    person.write("/language")
    [(text, buttons)] = person.replies(1)
    payloads = [f'/choose_language{{"language":"{code}"}}' for _title, code in LANGUAGES]
    assert text == expected("utter_choose_language", "ne")
    assert [data for _title, data in buttons] == payloads
    assert all(len(data.encode()) <= 64 for data in payloads)

    # Pressing Amharic: the press is answered, and the bot writes Amharic from now on.
    query_id = person.press(payloads[-1])
    assert person.replies(1) == [(expected("utter_language_set", "am"), [])]
    answered = wait_for(lambda: fake_telegram.calls("answerCallbackQuery"), 1)
    assert [c.params["callback_query_id"] for c in answered] == [query_id]

    person.write("/help")
    assert person.replies(1) == [(expected("utter_greet", "am"), [])]

    # A voice note: what the bot can read, in Amharic.
    person.send(voice={"file_id": "voice-1", "file_unique_id": "v1", "duration": 3})
    assert person.replies(1) == [(_("am", MEDIA_ANSWER), [])]
    person.nothing_more()

    logged = stack.logged()
    for private in ("700100200", BOT_TOKEN, TELEGRAM_SECRET):
        assert private not in logged


def test_telegram_user_language_is_a_hint_for_a_new_chat(
    stack: Stack, fake_telegram: FakeTelegram, nlg: NLG
) -> None:
    person = TelegramPerson(stack, fake_telegram, 700100300, language_code="ar")

    person.write("/start")

    expected = nlg.render("utter_greet", language="ar", channel="telegram").text
    assert person.replies(1) == [(expected, [])]


def test_forged_webhooks_are_refused(stack: Stack, fake_twilio: FakeTwilio) -> None:
    form = inbound_message("+96170999999", "hello")
    url = f"{stack.base}/webhooks/twilio"
    forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature(url, form, "x")})
    update = text_update(9999, 700100400, "hello")
    wrong_secret = httpx.post(
        f"{stack.base}/webhooks/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
    )

    assert (forged.status_code, wrong_secret.status_code) == (403, 403)


def test_no_address_reaches_rasa_s_tracker_store_and_no_message_a_log_line(
    stack: Stack, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> None:
    numbers = {"sms": "+96171555019", "whatsapp": "+34611555019"}
    chat_id = 700555019
    words = "zanzibar kumquat my employer locks me in the kitchen"
    for channel, number in numbers.items():
        sender = f"whatsapp:{number}" if channel == "whatsapp" else number
        person = TwilioPerson(stack, fake_twilio, sender)
        # People write their own number too: Rasa reads it masked.
        person.say(f"{words} call me on {number}")
        person.replies(1)
    telegram = TelegramPerson(stack, fake_telegram, chat_id, language_code="en")
    telegram.write(f"{words} my phone is {numbers['sms']}")
    telegram.replies(1)
    time.sleep(2.0)  # the rest of each answer, and its log lines

    stored = stack.rasa_store()
    # Rasa reads the words (this is its store), never who wrote them.
    assert words in stored
    logged = stack.logged()
    for private in [*numbers.values(), *(n.lstrip("+") for n in numbers.values()), str(chat_id)]:
        assert private not in stored, private
        assert private not in logged, private
    assert "kumquat" not in logged
