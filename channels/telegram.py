"""Telegram through python-telegram-bot: updates on a webhook, answers through ``Bot``.

Inbound: Telegram posts each update to ``POST /webhooks/telegram`` with the secret
registered by ``helpline telegram set-webhook`` in X-Telegram-Bot-Api-Secret-Token
(compared in constant time; 403 otherwise). ``Update.de_json`` reads it; the
update_id makes a repeat a no-op (provider id ``tg-update-<id>``). Text, edited
messages, attachments and button presses (callback queries, answered at once) from
private chats are stored; commands become the payloads Rasa understands; every
other update is acknowledged and ignored. The sender's language_code is a hint.

Outbound: ``Bot.send_message`` with choices as an inline keyboard; a payload over
Telegram's 64 bytes of callback data travels as a short key read back through the
conversation's last menu. Flood control (RetryAfter) is waited out; Forbidden (the
person blocked the bot) marks the contact unreachable.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter, Request, Response
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.errors import (
    BadWebhook,
    ChannelAuthError,
    DeliveryFailed,
    HelplineError,
    MediaUnavailable,
)
from bot.inbox import address_hash
from bot.languages import normalise
from channels import sms, webhooks
from channels.base import (
    MAX_MEDIA_BYTES,
    Channel,
    Choice,
    Fetched,
    Inbound,
    Limits,
    Media,
    Outgoing,
)
from channels.pacing import Pace

if TYPE_CHECKING:
    from bot.app_state import AppState
    from bot.config import Settings

log = logging.getLogger(__name__)
# python-telegram-bot logs each call's parameters (chat ids, texts) at DEBUG.
logging.getLogger("telegram").setLevel(logging.INFO)

WEBHOOK = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_UPDATE_BYTES = 1024 * 1024
SEND_TIMEOUT = 15.0
# What t.me/<bot>?start=... may name: a language ("ar", "lang-ar"), an organisation's id
# ("org-42": its caseworkers get the person's cases), or both ("org-42-ar").
DEEP_LINK = re.compile(
    r"(?:org[-_](?P<organisation>[0-9]{1,9})[-_]?)?(?:lang[-_])?(?P<language>[A-Za-z]{2,3})?"
)
# A file of a person's message, as Media.url: the file id, fetched with getFile.
FILE_PREFIX = "tg-file:"

# Commands -> the payloads of the intents they stand for (domain.yml).
COMMANDS = {
    "start": "/greet",
    "help": "/greet",
    "language": "/choose_language",
    "delete": "/erase_data",
    "stop": "/stop",
}
# Message attributes holding a file, and the kind of attachment each is. A GIF is both an
# animation and a document: the first match wins.
ATTACHMENTS = (
    ("voice", "audio"),
    ("audio", "audio"),
    ("video", "video"),
    ("video_note", "video"),
    ("animation", "video"),
    ("document", "document"),
    ("sticker", "sticker"),
)


def make_bot(settings: Settings) -> Bot:
    assert settings.telegram_bot_token is not None
    api = settings.telegram_api_base_url
    request = HTTPXRequest(
        connection_pool_size=64,
        read_timeout=SEND_TIMEOUT,
        write_timeout=SEND_TIMEOUT,
        connect_timeout=5.0,
        pool_timeout=5.0,
    )
    return Bot(
        settings.telegram_bot_token.reveal(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request,
        # Updates come by webhook; one connection pool serves everything.
        get_updates_request=request,
    )


def delivery_failure(error: TelegramError) -> DeliveryFailed:
    """What a Bot API error means for the outbox (its text never carries the person's data)."""
    if isinstance(error, RetryAfter):
        with warnings.catch_warnings():  # an int or a timedelta, depending on PTB_TIMEDELTA
            warnings.simplefilter("ignore")
            wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return DeliveryFailed("telegram: flood control (429)", retry_after=seconds)
    if isinstance(error, Forbidden):
        return DeliveryFailed(
            "telegram: forbidden (403): the person blocked the bot or left Telegram",
            unreachable=True,
        )
    if isinstance(error, ChatMigrated):
        return DeliveryFailed("telegram: the chat became a supergroup", permanent=True)
    if isinstance(error, InvalidToken):
        return DeliveryFailed(
            "telegram: the bot token was refused: check TELEGRAM_BOT_TOKEN", permanent=True
        )
    if isinstance(error, BadRequest):
        described = re.sub(r"\d{4,}", "…", error.message)[:120]
        unreachable = "chat not found" in described.lower()
        return DeliveryFailed(
            f"telegram: refused (400): {described}", permanent=True, unreachable=unreachable
        )
    # Time-outs, 5xx and connection errors: worth another attempt.
    return DeliveryFailed(f"telegram: {type(error).__name__}")


@dataclass(frozen=True)
class Parsed:
    """What an update asks of the helpline: a message to store, a button press to answer."""

    inbound: Inbound | None
    callback_query_id: str | None = None


class TelegramChannel(Channel):
    name = "telegram"
    limits: ClassVar[Limits] = Limits(
        max_chars=4096,
        supports_buttons=True,
        redact_fields=("text", "caption", "from", "chat", "contact", "location", "data"),
        size=sms.utf16_units,
        max_payload_bytes=64,
        # "Avoid sending more than one message per second" to a chat, 30 a second in all.
        pace=Pace(per_address=1.0, per_address_burst=3, overall=30.0, overall_burst=30),
    )

    def __init__(self, state: AppState) -> None:
        super().__init__(state)
        self.bot = make_bot(state.settings)

    def router(self) -> APIRouter:
        return webhook_router(self)

    def keyboard(self, choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
        if not choices:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(c.title, callback_data=self.choice_key(c.payload))]
                for c in choices
            ]
        )

    async def send(self, address: str, message: Outgoing) -> str | None:
        try:
            sent = await self.bot.send_message(
                chat_id=int(address), text=message.text, reply_markup=self.keyboard(message.choices)
            )
        except TelegramError as error:
            raise delivery_failure(error) from None
        # Message ids count per chat: a keyed hash of the chat keeps them apart, and unreadable.
        return f"tg-msg-{address_hash(self.name, address)[:12]}-{sent.message_id}"

    async def answer_button(self, callback_query_id: str) -> None:
        """Stop the button's spinner; a failure only leaves it spinning a little longer."""
        try:
            await self.bot.answer_callback_query(callback_query_id)
        except TelegramError as error:
            log.warning("telegram callback query not answered: %s", type(error).__name__)

    async def fetch_media(self, media: Media) -> Fetched:
        if not (media.url or "").startswith(FILE_PREFIX):
            raise MediaUnavailable(f"telegram: {media.kind} is not a file")
        try:
            found = await self.bot.get_file(str(media.url).removeprefix(FILE_PREFIX))
            if (found.file_size or 0) > MAX_MEDIA_BYTES:
                raise MediaUnavailable("telegram: file over the size limit")
            # The download URL holds the bot token: it stays inside python-telegram-bot.
            content = await found.download_as_bytearray()
        except TelegramError as error:
            raise MediaUnavailable(f"telegram: file not fetched ({type(error).__name__})") from None
        return Fetched(media.content_type or "application/octet-stream", bytes(content))

    async def close(self) -> None:
        await self.bot.request.shutdown()

    def parse(self, data: dict[str, Any]) -> Parsed | None:
        """The message of an update, or None for an update the helpline does not take."""
        if not any(kind in data for kind in ALLOWED_UPDATES):
            # Not read at all: a type this library version does not know must not be an error.
            kinds = ",".join(sorted(k for k in data if k != "update_id")) or "empty"
            return self._ignored(data["update_id"], kinds)
        try:
            update = Update.de_json(data, self.bot)
        except Exception:
            raise BadWebhook("not a Telegram update") from None
        provider_id = f"tg-update-{update.update_id}"
        if (query := update.callback_query) is not None:
            chat = query.message.chat if query.message is not None else None
            if chat is not None and chat.type != chat.PRIVATE:
                return self._ignored(update.update_id, "button in a group chat", query.id)
            inbound = None
            if query.data:
                inbound = Inbound(
                    channel=self.name,
                    address=str(chat.id if chat is not None else query.from_user.id),
                    provider_id=provider_id,
                    text=query.data,
                    language_hint=query.from_user.language_code,
                )
            return Parsed(inbound, query.id)
        message = update.message or update.edited_message
        if message is None:
            return self._ignored(update.update_id, "empty message")
        if message.chat.type != message.chat.PRIVATE:
            return self._ignored(update.update_id, "message in a group chat")
        language = message.from_user.language_code if message.from_user else None
        text = message.text or message.caption
        chosen = Command(text or "")
        if message.text and message.text.startswith("/"):
            chosen = command(message.text)
            text, language = chosen.payload, chosen.language or language
        media = media_of(message)
        if not (text and text.strip()) and not media:
            return self._ignored(update.update_id, "message without text or attachment")
        return Parsed(
            Inbound(
                channel=self.name,
                address=str(message.chat.id),
                provider_id=provider_id,
                text=text if text and text.strip() else None,
                media=tuple(media),
                language_hint=language,
                chosen_language=chosen.language,
                organisation_id=chosen.organisation_id,
            )
        )

    @staticmethod
    def _ignored(update_id: int, what: str, callback_query_id: str | None = None) -> Parsed:
        log.info("telegram update %s ignored: %s", update_id, what)
        return Parsed(None, callback_query_id)


@dataclass(frozen=True)
class Command:
    """A command as the payload Rasa understands, and what a /start deep link names."""

    payload: str
    language: str | None = None
    organisation_id: int | None = None


def command(text: str) -> Command:
    head, _, rest = text.strip().partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    if name not in COMMANDS:
        # Not ours: let the words be read as words ("/passport" -> "passport").
        return Command(text.strip()[1:])
    found = DEEP_LINK.fullmatch(rest.strip()) if name == "start" else None
    if found is None:
        return Command(COMMANDS[name])
    organisation = found["organisation"]
    return Command(
        COMMANDS[name],
        normalise(found["language"]) if found["language"] else None,
        int(organisation) if organisation else None,
    )


def media_of(message: Message) -> list[Media]:
    found: list[Media] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(Media("image", "image/jpeg", f"{FILE_PREFIX}{largest.file_id}"))
    for attribute, kind in ATTACHMENTS:
        attachment = getattr(message, attribute)
        if attachment is not None:
            content_type = getattr(attachment, "mime_type", None)
            if attribute == "sticker":
                content_type = (
                    "video/webm"
                    if attachment.is_video
                    else "application/x-tgsticker"
                    if attachment.is_animated
                    else "image/webp"
                )
            found.append(Media(kind, content_type, f"{FILE_PREFIX}{attachment.file_id}"))
            break
    if message.location is not None:
        location = message.location
        found.append(Media("location", None, f"geo:{location.latitude},{location.longitude}"))
    if message.contact is not None:
        found.append(Media("other", "text/vcard"))
    return found


def parse_update(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:  # JSON errors and undecodable bytes alike
        raise BadWebhook("the update is not JSON") from None
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BadWebhook("the update has no update_id")
    try:
        # JSON escapes can spell lone surrogates, which no UTF-8 text (nor Telegram) holds.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadWebhook("the update holds invalid Unicode") from None
    return data


def webhook_router(channel: TelegramChannel) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    state = channel.state
    assert state.settings.telegram_webhook_secret is not None
    secret = state.settings.telegram_webhook_secret.reveal().encode()
    pending: set[asyncio.Task[None]] = set()

    @router.post(WEBHOOK)
    async def update(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, secret):
            return webhooks.refusal("telegram", ChannelAuthError("telegram", "wrong secret token"))
        try:
            parsed = channel.parse(
                parse_update(await webhooks.read_body(request, MAX_UPDATE_BYTES))
            )
        except HelplineError as error:
            return webhooks.refusal("telegram", error)
        if parsed is None:
            return Response(status_code=200)
        if parsed.inbound is not None and await webhooks.store(state, parsed.inbound) is None:
            return webhooks.unavailable()
        if parsed.callback_query_id is not None:
            # After storing, so that a press Telegram must deliver again is answered again.
            task = asyncio.create_task(channel.answer_button(parsed.callback_query_id))
            pending.add(task)
            task.add_done_callback(pending.discard)
        return Response(status_code=200)

    return router


async def set_webhook(settings: Settings, url: str | None = None) -> str:
    """Register the webhook with its secret and the update types the helpline reads."""
    secret = settings.telegram_webhook_secret
    if settings.telegram_bot_token is None or secret is None:
        raise HelplineError("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set")
    if not SECRET_TOKEN.fullmatch(secret.reveal()):
        raise HelplineError(
            "TELEGRAM_WEBHOOK_SECRET: Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    url = url or f"{settings.public_base_url}{WEBHOOK}"
    bot = make_bot(settings)
    try:
        async with bot:
            await bot.set_webhook(
                url=url, secret_token=secret.reveal(), allowed_updates=list(ALLOWED_UPDATES)
            )
    except TelegramError as error:
        raise HelplineError(f"Telegram refused the webhook: {error.message}") from None
    return url
