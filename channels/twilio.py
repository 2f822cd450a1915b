"""SMS and WhatsApp through Twilio: two channels, one webhook, one client library.

Inbound: Twilio posts a form to ``POST /webhooks/twilio``; the X-Twilio-Signature
is checked with twilio's ``RequestValidator`` against PUBLIC_BASE_URL + path, the
message is stored (its MessageSid makes a repeat a no-op) and the answer is empty
TwiML at once: the worker replies through the API. A sender ``whatsapp:+...`` is
the WhatsApp channel, any other the SMS channel. Delivery reports arrive on
``POST /webhooks/twilio/status`` and move the stored outbound message forward.

Outbound: the real ``twilio`` client, its API domain pointed at TWILIO_API_BASE_URL,
run in a thread so that the event loop never waits on it. 429 and 5xx answers are
worth retrying (after Retry-After when given); other refusals are permanent and
recorded with Twilio's error code explained.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import phonenumbers
import requests
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import outbox
from bot.errors import (
    BadWebhook,
    ChannelAuthError,
    DeliveryFailed,
    HelplineError,
    MediaUnavailable,
)
from bot.models import utcnow
from bot.shared_transactions import SharedTransactions
from channels import webhooks
from channels.base import MAX_MEDIA_BYTES, Channel, Fetched, Inbound, Limits, Media, Outgoing
from channels.pacing import Pace, Pacer

if TYPE_CHECKING:
    from twilio.http.response import Response as TwilioResponse

    from bot.app_state import AppState
    from bot.config import Settings

log = logging.getLogger(__name__)
# twilio's HTTP client logs every request's URL and headers at INFO: keep it quiet.
_client_log = logging.getLogger(f"{__name__}.http")
_client_log.setLevel(logging.WARNING)

WEBHOOK = "/webhooks/twilio"
STATUS_WEBHOOK = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Twilio's Body parameter takes at most 1,600 characters (error 21617), WhatsApp included.
MAX_BODY = 1600
# A form with a 1,600-character body and ten media URLs is a few kilobytes.
MAX_FORM_BYTES = 256 * 1024
MAX_MEDIA = 10
SEND_TIMEOUT = 15.0
# How many of the newest messages to a person are read to find one whose send was cut off.
LOOKUP_LIMIT = 50
DEFAULT_CONTENT_TYPE = "application/octet-stream"
SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
REDACTED = (
    "From",
    "To",
    "Body",
    "ProfileName",
    "WaId",
    "ButtonText",
    "Latitude",
    "Longitude",
    "Address",
    "Label",
    *(f"MediaUrl{n}" for n in range(MAX_MEDIA)),
)


@dataclass(frozen=True)
class TwilioError:
    explanation: str
    # The person cannot be written to until they write again.
    unreachable: bool = False


# The error codes a caseworker meets, explained; https://www.twilio.com/docs/api/errors
ERRORS: dict[str, TwilioError] = {
    "20003": TwilioError("authentication failed: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    "21211": TwilioError("not a valid phone number", unreachable=True),
    "21408": TwilioError("sending to this country is not enabled in the Twilio console"),
    "21610": TwilioError(
        "the person unsubscribed (replied STOP); they must reply START first", unreachable=True
    ),
    "21614": TwilioError("not a mobile number", unreachable=True),
    "21617": TwilioError("longer than Twilio's 1,600 characters"),
    "30003": TwilioError("the phone is off or out of coverage"),
    "30004": TwilioError("blocked by the person, their carrier or a blocklist"),
    "30005": TwilioError("unknown number, or it no longer exists", unreachable=True),
    "30006": TwilioError("a landline, or a carrier that cannot receive it", unreachable=True),
    "30007": TwilioError("filtered by the carrier as unwanted"),
    "30008": TwilioError("unknown error from the carrier"),
    "63003": TwilioError("this number cannot be reached on WhatsApp", unreachable=True),
    "63016": TwilioError(
        "outside WhatsApp's 24-hour window: only an approved template can go out until the "
        "person writes again (POST /api/v1/cases/{id}/template)"
    ),
    "63018": TwilioError("WhatsApp's rate limit for this sender was exceeded"),
}

# Twilio's statuses -> the outbound row's; the others (queued, sending, ...) change nothing.
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}


def explain(code: str | int | None, what: str = "refused") -> str:
    code = str(code) if code not in (None, "") else None
    if code is None:
        return f"twilio: {what}"
    known = ERRORS.get(code)
    return f"twilio {code}: {what}: {known.explanation if known else 'see twilio.com/docs/errors'}"


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), if the answer has one."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class _HttpClient(TwilioHttpClient):
    """twilio's HTTP client, with the answers worth retrying raised as ``DeliveryFailed``."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as error:
            raise DeliveryFailed(f"twilio: no answer ({type(error).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryFailed(
                f"twilio: HTTP {response.status_code}",
                retry_after=retry_after(response.headers),
            )
        return response


def make_client(settings: Settings) -> Client:
    assert settings.twilio_auth_token is not None
    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.reveal(),
        http_client=_HttpClient(timeout=SEND_TIMEOUT, logger=_client_log),
        # Not os.environ: TWILIO_EDGE or TWILIO_REGION there would rewrite the API's host.
        environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
    )
    client.api.base_url = settings.twilio_api_base_url
    return client


class TwilioChannel(Channel):
    """What SMS and WhatsApp share: the client, the webhook, the error codes."""

    # The Settings attributes holding this channel's sender and its rate, and how its
    # addresses begin.
    sender_setting: ClassVar[str]
    rate_setting: ClassVar[str]
    address_prefix: ClassVar[str] = ""
    # Content types that mean another kind of attachment on this channel than their type says.
    media_kinds: ClassVar[Mapping[str, str]] = {}

    def __init__(self, state: AppState) -> None:
        super().__init__(state)
        settings = state.settings
        self.client = make_client(settings)
        sender = str(getattr(settings, self.sender_setting))
        self.sender = self.address_prefix + sender.removeprefix(self.address_prefix)
        self.status_callback = f"{settings.public_base_url}{STATUS_WEBHOOK}"
        rate = getattr(settings, self.rate_setting)
        if rate is not None:
            # One sender per channel: its rate caps all sends, and so each person's.
            burst = max(1, int(rate))
            self._pacer = Pacer(Pace(rate, burst, rate, burst))

    def router(self) -> APIRouter | None:
        # One webhook serves both channels: the first Twilio channel mounts it.
        first = next(c for c in self.state.channels.values() if isinstance(c, TwilioChannel))
        return webhook_router(self.state) if first is self else None

    async def send(self, address: str, message: Outgoing) -> str | None:
        content = {"content_sid": message.template} if message.template else {"body": message.text}
        try:
            created = await asyncio.to_thread(
                self.client.messages.create,
                to=address,
                from_=self.sender,
                status_callback=self.status_callback,
                **content,
            )
        except TwilioException as error:
            code = getattr(error, "code", None)
            known = ERRORS.get(str(code))
            status = getattr(error, "status", "?")
            raise DeliveryFailed(
                explain(code, f"refused (HTTP {status})"),
                permanent=True,
                unreachable=bool(known and known.unreachable),
            ) from None
        return str(created.sid)

    async def find_sent(self, address: str, message: Outgoing, since: datetime) -> str | None:
        """The sid of a message with this body created for ``address`` since ``since``.

        Twilio takes no idempotency key for Messages, so a send whose answer was lost
        is found by listing the newest messages to the person from our sender.
        """
        try:
            recent = await asyncio.to_thread(
                self.client.messages.list, to=address, from_=self.sender, limit=LOOKUP_LIMIT
            )
        except TwilioException as error:
            raise DeliveryFailed(
                explain(getattr(error, "code", None), "messages not listed")
            ) from None
        skew = since - timedelta(minutes=1)
        for found in recent:
            created = found.date_created
            if found.body == message.text and (created is None or created >= skew):
                return str(found.sid)
        return None

    async def fetch_media(self, media: Media) -> Fetched:
        settings = self.state.settings
        assert settings.twilio_auth_token is not None
        # Only Twilio's own media URLs get the account's credentials.
        if not (media.url or "").startswith(f"{settings.twilio_api_base_url}/"):
            raise MediaUnavailable(f"twilio: {media.kind} is not a Twilio media file")
        auth = (settings.twilio_account_sid or "", settings.twilio_auth_token.reveal())
        try:
            # Twilio redirects to its CDN; httpx drops the credentials when the host changes.
            async with self.state.http.stream(
                "GET", str(media.url), auth=auth, follow_redirects=True, timeout=30.0
            ) as response:
                if response.status_code != 200:
                    raise MediaUnavailable(f"twilio: media answered HTTP {response.status_code}")
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_MEDIA_BYTES:
                        raise MediaUnavailable("twilio: media over the size limit")
                content_type = response.headers.get("content-type")
        except httpx.HTTPError as error:
            raise MediaUnavailable(f"twilio: media not fetched ({type(error).__name__})") from None
        return Fetched(content_type or media.content_type or DEFAULT_CONTENT_TYPE, bytes(content))

    async def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


class SmsChannel(TwilioChannel):
    name = "sms"
    # A part costs at most four segments (612 GSM-7 or 268 UCS-2 characters), numbered "(1/3)".
    limits: ClassVar[Limits] = Limits(
        max_chars=MAX_BODY,
        supports_buttons=False,
        redact_fields=REDACTED,
        max_segments=4,
        number_parts=True,
    )
    sender_setting = "twilio_sms_from"
    rate_setting = "twilio_sms_rate"


class WhatsAppChannel(TwilioChannel):
    name = "whatsapp"
    # WhatsApp itself takes 4,096 characters, Twilio's API 1,600 of them.
    limits: ClassVar[Limits] = Limits(
        max_chars=MAX_BODY,
        supports_buttons=False,
        redact_fields=REDACTED,
        reply_window_hours=24,
    )
    sender_setting = "twilio_whatsapp_from"
    rate_setting = "twilio_whatsapp_rate"
    address_prefix = "whatsapp:"

    def template(self) -> str | None:
        return self.state.settings.twilio_whatsapp_template_sid

    # WhatsApp stickers arrive as WebP images.
    media_kinds: ClassVar[Mapping[str, str]] = {"image/webp": "sticker"}


CHANNELS: tuple[type[TwilioChannel], ...] = (WhatsAppChannel, SmsChannel)


def channel_of(sender: str) -> type[TwilioChannel]:
    """WhatsApp for ``whatsapp:+...``, SMS for any other sender."""
    return next(c for c in CHANNELS if sender.startswith(c.address_prefix))


def parse_form(body: bytes) -> ImmutableMultiDict[str, str]:
    """A form body as Twilio signed it; anything but UTF-8 is a bad request."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=200,
        )
    except UnicodeDecodeError:
        raise BadWebhook("the form is not valid UTF-8") from None
    except ValueError:
        raise BadWebhook("too many form fields") from None
    return ImmutableMultiDict(pairs)


def country_of(number: str) -> str | None:
    """The ISO country of a phone number's calling code (+961 -> LB), if it is one."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    # The number's own region where it is a valid number (+1 is the US or Canada, ...),
    # else the main region of its calling code.
    region = phonenumbers.region_code_for_number(parsed)
    if not region and parsed.country_code is not None:
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return region if region and len(region) == 2 and region.isalpha() and region != "ZZ" else None


def media_of(params: ImmutableMultiDict[str, str], channel: type[TwilioChannel]) -> list[Media]:
    try:
        count = int(params.get("NumMedia") or 0)
    except ValueError:
        raise BadWebhook("NumMedia is not a number") from None
    if not 0 <= count <= MAX_MEDIA:
        raise BadWebhook(f"NumMedia outside 0..{MAX_MEDIA}")
    media = []
    for n in range(count):
        url = params.get(f"MediaUrl{n}")
        content_type = (params.get(f"MediaContentType{n}") or "").lower() or None
        if not url:
            raise BadWebhook(f"MediaUrl{n} missing")
        media.append(Media(kind_of(content_type, channel), content_type, url))
    latitude, longitude = params.get("Latitude"), params.get("Longitude")
    if latitude and longitude:
        try:
            point = f"geo:{float(latitude)},{float(longitude)}"
        except ValueError:
            raise BadWebhook("Latitude or Longitude is not a number") from None
        media.append(Media("location", None, point))
    return media


def kind_of(content_type: str | None, channel: type[TwilioChannel]) -> str:
    if content_type is None:
        return "other"
    if content_type in channel.media_kinds:
        return channel.media_kinds[content_type]
    major = content_type.split("/", 1)[0]
    if major in {"image", "audio", "video"}:
        return major
    return "document" if major in {"application", "text"} else "other"


def parse_inbound(params: ImmutableMultiDict[str, str]) -> Inbound | None:
    """The message in a webhook form; None when it carries nothing (no text, no attachment)."""
    sender = (params.get("From") or "").strip()
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sender or not sid:
        raise BadWebhook("From or MessageSid missing")
    if not SID.fullmatch(sid) or len(sender) > 64:
        raise BadWebhook("MessageSid or From malformed")
    channel = channel_of(sender)
    media = media_of(params, channel)
    # A tapped WhatsApp quick-reply button carries its payload besides the button's text.
    text = params.get("ButtonPayload") or params.get("Body") or ""
    if not text.strip() and not media:
        log.info("%s message %s has no text and no attachment: not stored", channel.name, sid)
        return None
    return Inbound(
        channel=channel.name,
        address=sender,
        provider_id=sid,
        text=text if text.strip() else None,
        media=tuple(media),
        country_hint=country_of(sender.removeprefix(channel.address_prefix)),
    )


def webhook_router(state: AppState) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings = state.settings
    assert settings.twilio_auth_token is not None
    validator = RequestValidator(settings.twilio_auth_token.reveal())
    ours = [c.name for c in CHANNELS]
    reports = SharedTransactions(state.db.session)

    async def verified(request: Request) -> ImmutableMultiDict[str, str]:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise ChannelAuthError("twilio", "no X-Twilio-Signature")
        params = parse_form(await webhooks.read_body(request, MAX_FORM_BYTES))
        url = settings.public_base_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        if not validator.validate(url, params, signature):
            raise ChannelAuthError("twilio", f"signature does not match {request.url.path}")
        return params

    @router.post(WEBHOOK)
    async def inbound(request: Request) -> Response:
        try:
            message = parse_inbound(await verified(request))
        except HelplineError as error:
            return webhooks.refusal("twilio", error)
        if message is not None:
            if message.channel not in state.channels:
                log.warning(
                    "%s message %s stored, but %s is off: it cannot be answered",
                    message.channel,
                    message.provider_id,
                    message.channel,
                )
            if await webhooks.store(state, message) is None:
                return webhooks.unavailable()
        return Response(EMPTY_TWIML, media_type="text/xml")

    @router.post(STATUS_WEBHOOK)
    async def delivery_status(request: Request) -> Response:
        try:
            params = await verified(request)
        except HelplineError as error:
            return webhooks.refusal("twilio status", error)
        sid, reported = params.get("MessageSid") or "", params.get("MessageStatus") or ""
        if not SID.fullmatch(sid) or not reported:
            return webhooks.refusal("twilio status", BadWebhook("MessageSid or MessageStatus bad"))
        status = STATUSES.get(reported)
        if status is None:
            return Response(status_code=204)
        code = params.get("ErrorCode") or None
        known = ERRORS.get(code or "")

        def record(session: Session) -> bool | None:
            return outbox.record_status(
                session,
                ours,
                sid,
                status,
                error=explain(code, reported) if status == "failed" else None,
                unreachable=bool(known and known.unreachable),
            )

        try:
            applied = await reports.write(record)
        except SQLAlchemyError as error:
            log.error("twilio message %s: status not stored: %s", sid, type(error).__name__)
            return webhooks.unavailable()
        log.info(
            "twilio message %s: %s%s%s",
            sid,
            reported,
            f" ({code})" if code else "",
            {None: ", no such message", False: ", already further"}.get(applied, ""),
        )
        return Response(status_code=204)

    return router
