"""A scriptable HTTP server on loopback: the common part of the provider fakes.

A fake records every request it receives and answers in its provider's wire format;
it can be told to answer the next sending requests with a fault (rate limit, server
error, time-out, rejection). It runs in a thread, so that the real client libraries
talk to it over real sockets, and it can run on its own for the benchmarks
(``python -m tests.helpers.fake_twilio``), where ``/_fake/...`` lets another process
read what was recorded and script faults.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it; ``params`` merges the query and the body."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Fault:
    """How to answer one sending request instead of succeeding."""

    kind: str  # rate_limit, server_error, timeout, reject, answer, delay
    retry_after: int | None = None
    seconds: float = 30.0  # how long a time-out holds the answer back
    status: int | None = None
    body: Any = None

    @classmethod
    def rate_limit(cls, retry_after: int = 1) -> Fault:
        return cls("rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        return cls("server_error")

    @classmethod
    def timeout(cls, seconds: float = 30.0) -> Fault:
        return cls("timeout", seconds=seconds)

    @classmethod
    def reject(cls) -> Fault:
        return cls("reject")

    @classmethod
    def delay(cls, seconds: float = 30.0) -> Fault:
        """Do what was asked at once, but hold the answer back (the client may die meanwhile)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def answer(cls, status: int, body: Any) -> Fault:
        return cls("answer", status=status, body=body)


Answer = tuple[int, dict[str, str], Any]


class FakeServer:
    """Subclasses answer requests (``answer``) and faults (``fault_answer``) in their format."""

    name = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # Life cycle ----------------------------------------------------------------------

    def start(self) -> Self:
        self._thread = threading.Thread(
            # A short poll interval: ``stop`` waits for the loop to notice.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Scripting -----------------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        """Answer the next sending requests with these faults, in order."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    def recorded(self, predicate: Callable[[Recorded], bool] | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if predicate is None or predicate(r)]

    def sent(self) -> list[Recorded]:
        """The sending requests received, faulted ones included."""
        return self.recorded(self.is_send)

    def wait_for_sends(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """Poll until ``count`` sending requests arrived; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(sends := self.sent()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {len(sends)} sends, expected {count}")
            time.sleep(0.01)
        return sends

    # For subclasses ------------------------------------------------------------------

    def is_send(self, request: Recorded) -> bool:
        raise NotImplementedError

    def answer(self, request: Recorded) -> Answer:
        raise NotImplementedError

    def fault_answer(self, fault: Fault, request: Recorded) -> Answer:
        raise NotImplementedError

    # The request path ----------------------------------------------------------------

    def _respond(self, request: Recorded) -> Answer | None:
        """The answer, or None for a time-out (the connection is then dropped)."""
        if request.path.startswith("/_fake/"):
            return self._control(request)
        with self._lock:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults and self.is_send(request) else None
        if fault is None:
            return self.answer(request)
        if fault.kind == "timeout":
            self._stopping.wait(fault.seconds)
            return None
        if fault.kind == "delay":
            done = self.answer(request)
            self._stopping.wait(fault.seconds)
            return done
        if fault.kind == "answer":
            return fault.status or 500, {}, fault.body
        return self.fault_answer(fault, request)

    def _control(self, request: Recorded) -> Answer:
        if request.path == "/_fake/requests":
            return 200, {}, [asdict(r) for r in self.recorded()]
        if request.path == "/_fake/reset":
            self.reset()
            return 200, {}, {"ok": True}
        if request.path == "/_fake/faults" and request.method == "POST":
            params = dict(request.params)
            times = int(params.pop("times", 1))
            self.fail_next(*[Fault(**params)] * times)
            return 200, {}, {"ok": True}
        return 404, {}, {"error": "unknown control path"}


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Form, multipart or JSON bodies as a dict (the last value of a repeated form field wins)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if kind == JSON_TYPE:
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {"_": parsed}
    if kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        return {
            str(part.get_param("name", header="content-disposition")): part.get_content()
            for part in message.iter_parts()
        }
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                params.update(parse_body(self.headers.get("Content-Type", ""), body))
            except (ValueError, UnicodeDecodeError):
                params["_undecodable"] = True
            path = unquote(parts.path)
            request = Recorded(self.command, path, dict(self.headers.items()), params)
            answer = fake._respond(request)
            if answer is None:
                self.close_connection = True
                return
            status, headers, content = answer
            data = json.dumps(content).encode() if not isinstance(content, bytes) else content
            try:
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", JSON_TYPE))
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (its own time-out)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: tests read ``requests`` instead."""

    return Handler


def serve_forever(make: Callable[[argparse.Namespace], FakeServer], parser: Any) -> None:
    """Run a fake on its own until interrupted (for the benchmarks)."""
    args = parser.parse_args()
    fake = make(args)
    fake.start()
    print(f"{fake.name} listening on {fake.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
