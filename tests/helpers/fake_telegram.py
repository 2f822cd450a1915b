"""A fake of the Telegram Bot API on loopback, for python-telegram-bot's ``Bot``.

It answers ``/bot<token>/<method>`` (GET or POST; form, multipart or JSON
parameters) with ``{"ok": true, "result": ...}`` and Telegram's error bodies
(``{"ok": false, "error_code", "description", "parameters"}``): getMe, sendMessage,
answerCallbackQuery, getFile (and ``/file/bot<token>/<path>`` downloads of the files
added with ``add_file``), setWebhook, getWebhookInfo, deleteWebhook. It checks what
Telegram checks of a message: a text of 1-4096 UTF-16 code units, callback data of
1-64 bytes. Faults for sendMessage: 429 with ``parameters.retry_after``, 500, a
time-out, and a rejection (403 "Forbidden: bot was blocked by the user").

The module also builds the updates Telegram posts to the helpline (``text_update``,
``callback_update``, ...).

Standalone: ``python -m tests.helpers.fake_telegram --port 8092``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

from tests.helpers.fake_http import Answer, FakeServer, Fault, Recorded, serve_forever

BOT_TOKEN = "123456789:fake-telegram-token_0123456789abcdef"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Helpline",
    "username": "helpline_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64


def failure(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram(FakeServer):
    name = "fake-telegram"

    def __init__(self, token: str = BOT_TOKEN, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.token = token
        self.webhook: dict[str, Any] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self._message_ids = itertools.count(1000)

    def add_file(self, content: bytes, file_path: str = "voice/file_1.oga") -> str:
        """A file a person sent; returns its file_id."""
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = (file_path, content)
        return file_id

    def is_send(self, request: Recorded) -> bool:
        return self.method_of(request) == "sendmessage"

    def method_of(self, request: Recorded) -> str | None:
        prefix = f"/bot{self.token}/"
        return request.path[len(prefix) :].lower() if request.path.startswith(prefix) else None

    def calls(self, method: str) -> list[Recorded]:
        return self.recorded(lambda r: self.method_of(r) == method.lower())

    def answer(self, request: Recorded) -> Answer:
        if request.path.startswith(f"/file/bot{self.token}/"):
            wanted = request.path.removeprefix(f"/file/bot{self.token}/")
            found = [content for path, content in self.files.values() if path == wanted]
            if not found:
                return 404, {}, failure(404, "Not Found")
            return 200, {"Content-Type": "application/octet-stream"}, found[0]
        if not request.path.startswith("/bot"):
            return 404, {}, failure(404, "Not Found")
        method = self.method_of(request)
        if method is None:
            return 401, {}, failure(401, "Unauthorized")
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return 404, {}, failure(404, "Not Found: method not found")
        status, result = handler(request.params)
        return (200, {}, {"ok": True, "result": result}) if status == 200 else (status, {}, result)

    def _getme(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, BOT_USER

    def _sendmessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        text, chat_id = params.get("text", ""), params.get("chat_id")
        if not chat_id:
            return 400, failure(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return 400, failure(400, "Bad Request: message text is empty")
        if _utf16(text) > MAX_TEXT:
            return 400, failure(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data", "")
                if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    return 400, failure(400, "Bad Request: BUTTON_DATA_INVALID")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": {"id": int(chat_id), "type": "private", "first_name": "Person"},
            "date": int(time.time()),
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        return 200, message

    def _getfile(self, params: dict[str, Any]) -> tuple[int, Any]:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            return 400, failure(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        found = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content)}
        return 200, found | {"file_path": path}

    def _answercallbackquery(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not params.get("callback_query_id"):
            return 400, failure(400, "Bad Request: query is too old and response timeout expired")
        return 200, True

    def _setwebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        url = params.get("url", "")
        if not url.startswith("https://"):
            return 400, failure(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        allowed = params.get("allowed_updates")
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": json.loads(allowed) if isinstance(allowed, str) else allowed,
        }
        return 200, True

    def _getwebhookinfo(self, params: dict[str, Any]) -> tuple[int, Any]:
        info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False}
        return 200, info | {"pending_update_count": 0}

    def _deletewebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = {}
        return 200, True

    def fault_answer(self, fault: Fault, request: Recorded) -> Answer:
        if fault.kind == "rate_limit":
            wait = fault.retry_after or 1
            body = failure(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            return 429, {"Retry-After": str(wait)}, body
        if fault.kind == "reject":
            return 403, {}, failure(403, "Forbidden: bot was blocked by the user")
        return 500, {}, failure(500, "Internal Server Error")


# What Telegram posts to the helpline -------------------------------------------------


def person(user_id: int, language_code: str | None = "en") -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Amina"}
    if language_code:
        user["language_code"] = language_code
    return user


def message(
    chat_id: int, message_id: int = 1, *, language_code: str | None = "en", **fields: Any
) -> dict[str, Any]:
    """A private-chat message; ``fields`` are its content (text, photo, voice, ...)."""
    return {
        "message_id": message_id,
        "from": person(chat_id, language_code),
        "chat": {"id": chat_id, "type": "private", "first_name": "Amina"},
        "date": int(time.time()),
        **fields,
    }


def text_update(
    update_id: int, chat_id: int, text: str, *, language_code: str | None = "en"
) -> dict[str, Any]:
    entities = []
    if text.startswith("/"):
        command = text.split(" ", 1)[0]
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    fields: dict[str, Any] = {"text": text}
    if entities:
        fields["entities"] = entities
    return {
        "update_id": update_id,
        "message": message(chat_id, update_id, language_code=language_code, **fields),
    }


def callback_update(
    update_id: int, chat_id: int, data: str, *, language_code: str | None = "en"
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": person(chat_id, language_code),
            "chat_instance": "-123",
            "data": data,
            "message": message(chat_id, update_id, text="Choose", language_code=language_code)
            | {"from": BOT_USER},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--token", default=BOT_TOKEN)

    def make(args: argparse.Namespace) -> FakeServer:
        return FakeTelegram(args.token, host=args.host, port=args.port)

    serve_forever(make, parser)


if __name__ == "__main__":
    main()
