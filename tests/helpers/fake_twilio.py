"""A fake of Twilio's Messages API on loopback, for the real ``twilio`` client.

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded,
HTTP basic auth with the account SID and auth token; Body, or ContentSid for an
approved template) with the JSON resource Twilio returns, ``sid``, ``status`` and
``error_code`` included, and Twilio's error bodies
(``{"code", "message", "more_info", "status"}``) for what Twilio refuses, and the
media files of incoming messages (``add_media``: basic auth, then a redirect), and
the list of messages (``GET .../Messages.json?To=&From=``, newest first). Faults:
429 with Retry-After (error 20429), 500 (20500), a time-out, a rejection (400,
error 21610: the person unsubscribed), and a delay (the message is created at once,
its answer held back). With ``callbacks=True`` it also posts signed
delivery reports (sent, delivered) to each message's StatusCallback.

The module also builds what Twilio sends to the helpline: inbound-message and
status-callback forms, and their X-Twilio-Signature (``signature``).

Standalone: ``python -m tests.helpers.fake_twilio --port 8091``.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from channels import sms
from tests.helpers.fake_http import Answer, FakeServer, Fault, Recorded, serve_forever

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
API_VERSION = "2010-04-01"
MESSAGES = re.compile(
    rf"/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json"
)
ADDRESS = re.compile(r"(whatsapp:)?\+[1-9]\d{6,14}")
MEDIA = re.compile(
    rf"/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/[^/]+/Media/(?P<sid>[^/]+)"
)
CDN = re.compile(r"/cdn/(?P<sid>ME[0-9a-f]{32})")
CONTENT_SID = re.compile(r"HX[0-9a-f]{32}")
MAX_BODY = 1600


def error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def signature(url: str, params: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio sends with a webhook to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def inbound_message(
    sender: str,
    body: str | None,
    *,
    sid: str | None = None,
    to: str = "+15005550006",
    media: Iterable[tuple[str, str]] = (),
    account_sid: str = ACCOUNT_SID,
    **extra: str,
) -> dict[str, str]:
    """The form of an incoming SMS or WhatsApp message (sender ``whatsapp:+...`` for WhatsApp).

    ``body=None`` leaves the Body field out; ``media`` is (url, content type) pairs.
    """
    sid = sid or "SM" + secrets.token_hex(16)
    whatsapp = sender.startswith("whatsapp:")
    form = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "From": sender,
        "To": f"whatsapp:{to}" if whatsapp and not to.startswith("whatsapp:") else to,
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "NumSegments": "1",
    }
    if body is not None:
        form["Body"] = body
    media = list(media)
    form["NumMedia"] = str(len(media))
    for n, (url, content_type) in enumerate(media):
        form[f"MediaUrl{n}"] = url
        form[f"MediaContentType{n}"] = content_type
    if whatsapp:
        form["WaId"] = sender.removeprefix("whatsapp:+")
        form["ProfileName"] = "Amina"
        form["MessageType"] = "text" if not media else "image"
    return form | extra


def status_callback(
    sid: str, status: str, *, error_code: int | None = None, account_sid: str = ACCOUNT_SID
) -> dict[str, str]:
    """The form of a delivery report for message ``sid``."""
    form = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


class FakeTwilio(FakeServer):
    name = "fake-twilio"

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        callbacks: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks = callbacks
        self.messages: dict[str, dict[str, Any]] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self._numbers = itertools.count(1)

    def add_media(self, content_type: str, content: bytes) -> str:
        """A file a person sent; returns its MediaUrl as Twilio gives it in the webhook."""
        media_sid = f"ME{next(self._numbers):032x}"
        self.media[media_sid] = (content_type, content)
        message_sid = f"MM{next(self._numbers):032x}"
        return (
            f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}"
            f"/Messages/{message_sid}/Media/{media_sid}"
        )

    def is_send(self, request: Recorded) -> bool:
        return request.method == "POST" and request.path.endswith("/Messages.json")

    def _authorised(self, headers: dict[str, str]) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return secrets.compare_digest(headers.get("Authorization", ""), f"Basic {expected}")

    def answer(self, request: Recorded) -> Answer:
        if (cdn := CDN.fullmatch(request.path)) and cdn["sid"] in self.media:
            content_type, content = self.media[cdn["sid"]]
            return 200, {"Content-Type": content_type}, content
        if not self._authorised(request.headers):
            return 401, {}, error(20003, "Authenticate", 401)
        if media := MEDIA.fullmatch(request.path):
            if media["account"] != self.account_sid or media["sid"] not in self.media:
                return 404, {}, error(20404, "The requested resource was not found", 404)
            # Twilio answers with a redirect to its content delivery network.
            return 307, {"Location": f"{self.url}/cdn/{media['sid']}"}, b""
        route = MESSAGES.fullmatch(request.path)
        if route is None or route["account"] != self.account_sid:
            return 404, {}, error(20404, "The requested resource was not found", 404)
        if request.method == "GET" and route["sid"]:
            found = self.messages.get(route["sid"])
            if found is None:
                return 404, {}, error(20404, "The requested resource was not found", 404)
            return 200, {}, found
        if request.method == "GET":
            return 200, {}, self._list(request.path, request.params)
        if request.method != "POST" or route["sid"]:
            return 405, {}, error(20004, "Method not allowed", 405)
        return self._create(request.params)

    def _list(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """A page of messages, newest first, filtered by To and From as Twilio does."""
        size = int(params.get("PageSize") or 50)
        found = [
            m
            for m in reversed(list(self.messages.values()))
            if m["to"] == params.get("To", m["to"]) and m["from"] == params.get("From", m["from"])
        ][:size]
        return {
            "messages": found,
            "end": max(len(found) - 1, 0),
            "first_page_uri": path,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": path,
        }

    def _create(self, params: dict[str, Any]) -> Answer:
        to, sender, body = params.get("To", ""), params.get("From", ""), params.get("Body")
        if not to:
            return 400, {}, error(21604, "A 'To' phone number is required.", 400)
        if not ADDRESS.fullmatch(to):
            return 400, {}, error(21211, "Invalid 'To' Phone Number", 400)
        if not sender or not ADDRESS.fullmatch(sender):
            return 400, {}, error(21212, "Invalid 'From' Phone Number", 400)
        if to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            return 400, {}, error(63007, "Channel could not find a From address", 400)
        content_sid = params.get("ContentSid")
        if content_sid and not CONTENT_SID.fullmatch(content_sid):
            return 400, {}, error(21656, "The ContentSid is Invalid.", 400)
        if not body and not params.get("MediaUrl") and not content_sid:
            return 400, {}, error(21602, "Message body is required.", 400)
        if body and len(body) > MAX_BODY:
            message = "The concatenated message body exceeds the 1600 character limit."
            return 400, {}, error(21617, message, 400)
        sid = f"SM{next(self._numbers):032x}"
        resource = self._resource(sid, to, sender, body or "", params.get("StatusCallback"))
        self.messages[sid] = resource
        if self.callbacks and resource["status_callback"]:
            threading.Thread(
                target=self._report, args=(resource,), name="fake-twilio-callback", daemon=True
            ).start()
        return 201, {}, resource

    def _resource(
        self, sid: str, to: str, sender: str, body: str, callback: str | None
    ) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(sms.segments(body)) if not to.startswith("whatsapp:") else "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "status_callback": callback,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }

    def _report(self, resource: dict[str, Any]) -> None:
        """Post signed delivery reports, as Twilio does once the carrier answers."""
        url = resource["status_callback"]
        for status in ("sent", "delivered"):
            if self._stopping.wait(0.05):
                return
            form = status_callback(resource["sid"], status, account_sid=self.account_sid)
            form |= {"From": resource["from"], "To": resource["to"]}
            request = urllib.request.Request(  # noqa: S310 - the URL the helpline gave
                url,
                data=urlencode(form).encode(),
                headers={"X-Twilio-Signature": signature(url, form, self.auth_token)},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - loopback
            except urllib.error.HTTPError:
                continue  # Twilio reports the next status even when one report was refused
            except OSError:
                return

    def fault_answer(self, fault: Fault, request: Recorded) -> Answer:
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return 429, headers, error(20429, "Too Many Requests", 429)
        if fault.kind == "reject":
            return 400, {}, error(21610, "Attempt to send to unsubscribed recipient", 400)
        return 500, {}, error(20500, "Internal Server Error", 500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--callbacks", action="store_true", help="post delivery reports")

    def make(args: argparse.Namespace) -> FakeServer:
        return FakeTwilio(
            args.account_sid,
            args.auth_token,
            host=args.host,
            port=args.port,
            callbacks=args.callbacks,
        )

    serve_forever(make, parser)


if __name__ == "__main__":
    main()
