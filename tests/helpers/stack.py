"""The whole helpline as real processes: Rasa (one or more replicas), the action server, the service.

``running`` is for the integration tests: the three processes on free ports (SQLite, or
PostgreSQL and Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set), fresh stores,
and a failed test with the processes' logs if the stack dies. ``started`` is the same
launcher for the benchmark (``make bench``): its own environment and stores, several
Rasa replicas, another command line for the service, extra worker processes. Both wait
until /healthz says every component (every Rasa replica included) is up, and stop every
process group afterwards. Extra environment variables (the provider fakes' addresses,
their credentials) turn channels on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from bot.config import Settings
from bot.runner import rasa_endpoints

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
HELPLINE = Path(sys.executable).parent / "helpline"
STARTUP_SECONDS = 240
STOP_SECONDS = 20
PASSWORD = "correct horse battery staple"


class StackError(RuntimeError):
    """The stack could not start; the message carries the tail of the logs."""


T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something true, and return it; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def english(response: str) -> str:
    """The English source text of a response, as the content files declare it."""
    for path in [ROOT / "domain.yml", *sorted((ROOT / "nlu_data").rglob("*.yml"))]:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for variation in (document.get("responses") or {}).get(response, []):
            if "channel" not in variation and "condition" not in variation:
                return str(variation["text"]).strip()
    raise AssertionError(f"no response {response}")


def first_answer(language: str = "en") -> str:
    """What the helpline says first to a new person whose first answer is not the greeting."""
    from bot.i18n import _
    from bot.keywords import Keywords
    from bot.worker import FIRST_ANSWER_NOTICE

    return _(language, FIRST_ANSWER_NOTICE, word=Keywords.load().erase_word(language))


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # How each process was started, so that a test can kill one and start it again.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def rasa_urls(self) -> list[str]:
        return self.env["RASA_URL"].split(",")

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(HELPLINE), *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def user(self, org: str, username: str, role: str = "caseworker") -> dict[str, str]:
        """A user of ``org`` (created with it when new); returns their bearer header."""
        with contextlib.suppress(AssertionError):  # the organisation exists already
            self.cli("orgs", "create", org)
        self.cli(
            "users",
            "create",
            "--org",
            org,
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        response = httpx.post(
            f"{self.base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def logged(self) -> str:
        """Everything the processes wrote so far."""
        return "".join(path.read_text(errors="replace") for path in self.logs.values())

    def rasa_store(self) -> str:
        """Everything Rasa's tracker store holds (SQLite file or Redis), as one string."""
        from tests.helpers.rasa_store import stored_text

        return stored_text(Settings.load(self.env, env_file=None))

    def health(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.base}/healthz", timeout=10)
        return response.status_code, response.json()

    def kill(self, name: str) -> None:
        """SIGKILL one process (its whole group): no clean-up, as when it crashes."""
        child = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    def start(self, name: str) -> None:
        """Start a process again, as it was started first."""
        running = self.processes.get(name)
        assert running is None or running.poll() is not None, f"{name} is running"
        command, env = self.commands[name]
        self.processes[name] = _start(command, env, self.logs[name])

    def tail(self, characters: int = 2000) -> str:
        return "".join(f"\n--- {n}\n{p.read_text()[-characters:]}" for n, p in self.logs.items())


def fresh_stores(env: dict[str, str]) -> None:
    """Empty the test database and Redis db: each module starts from nothing."""
    if env.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    if os.environ.get("TEST_DATABASE_URL"):
        from sqlalchemy import text

        from bot.db import Database

        database = Database(env["DATABASE_URL"])
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        database.dispose()


@contextlib.contextmanager
def running(var: Path, extra: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """The stack, its state under ``var``; fails the test with the processes' logs if it dies."""
    own = ("DATABASE_URL", "REDIS_URL", "HELPLINE_PORT", "PUBLIC_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{var}/helpline.db"
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    env.update(extra or {})
    fresh_stores(env)
    try:
        with started(var, env) as stack:
            yield stack
    except StackError as error:
        pytest.fail(str(error))


def rasa_name(replica: int, replicas: int) -> str:
    return "rasa" if replicas == 1 else f"rasa-{replica + 1}"


@contextlib.contextmanager
def started(
    var: Path,
    base_env: Mapping[str, str],
    *,
    rasa_replicas: int = 1,
    helpline: Sequence[str] = (str(HELPLINE), "serve"),
    more: Mapping[str, Sequence[str]] | None = None,
    rasa_ports: Sequence[int] = (),
    helpline_env: Mapping[str, str] | None = None,
    nlg_port: int | None = None,
) -> Iterator[Stack]:
    """Start every process with ``base_env`` (DATABASE_URL, REDIS_URL, channels...).

    ``helpline`` replaces the service's command line; ``more`` adds processes (separate
    workers) once the service is healthy. ``rasa_ports`` chooses the replicas' ports and
    ``helpline_env`` overrides the environment of the service and the ``more`` processes
    (a proxy in front of Rasa). ``nlg_port`` sends Rasa's NLG requests to that port
    instead of the service's; a process in ``more`` serves them, and the stack is ready
    once it is healthy too. Raises StackError if the stack does not start.
    """
    if not (ROOT / "models" / ".trained").exists() or not RASA.exists():
        raise StackError("the stack needs `make train` (the Rasa runtime and a trained model)")
    env = dict(base_env)
    # The caller may name the service's port: the providers' fakes must know it beforehand.
    env.setdefault("HELPLINE_PORT", str(free_port()))
    ports = {"actions": free_port()}
    rasa = [rasa_name(r, rasa_replicas) for r in range(rasa_replicas)]
    chosen = [*rasa_ports, *(free_port() for _ in rasa[len(rasa_ports) :])]
    ports |= dict(zip(rasa, chosen, strict=True))
    env.update(
        HELPLINE_ENV="test",
        HELPLINE_VAR_DIR=str(var),
        RASA_URL=",".join(f"http://127.0.0.1:{ports[name]}" for name in rasa),
        ACTION_SERVER_URL=f"http://127.0.0.1:{ports['actions']}",
    )
    env.setdefault("LOG_LEVEL", "INFO")
    # Providers' webhooks are signed for the URL they call: here, the service itself.
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{env['HELPLINE_PORT']}")
    settings = Settings.load(env, env_file=None)
    endpoints = rasa_endpoints(settings, ROOT, nlg_port=nlg_port)
    env["RASA_TOKEN"] = settings.rasa_token.reveal()
    commands: dict[str, list[str]] = {
        name: [
            # Rasa with message text kept out of its log, as the Procfile starts it.
            *(str(RASA_PYTHON), "-m", "bot.rasa_run"),
            "run",
            "--enable-api",
            # One argument: a generated token may begin with "-".
            f"--auth-token={env['RASA_TOKEN']}",
            "--interface",
            "127.0.0.1",
            "--port",
            str(ports[name]),
            "--model",
            str(ROOT / "models"),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(ROOT / "credentials.yml"),
        ]
        for name in rasa
    }
    commands["actions"] = [
        *(str(RASA), "run", "actions", "--actions", "actions"),
        *("--port", str(ports["actions"])),
    ]
    commands["helpline"] = list(helpline)
    stack = Stack(
        base=f"http://127.0.0.1:{env['HELPLINE_PORT']}",
        env=env,
        logs={name: var / f"{name}.log" for name in [*commands, *(more or {})]},
    )
    service_env = env | dict(helpline_env or {})
    for name, command in [*commands.items(), *(more or {}).items()]:
        stack.commands[name] = (list(command), env if name in [*rasa, "actions"] else service_env)
    try:
        for name in commands:
            stack.start(name)
        _wait_healthy(stack)
        for name in more or {}:
            stack.start(name)
        if nlg_port:
            _wait_healthy(stack, f"http://127.0.0.1:{nlg_port}")
        yield stack
    finally:
        stop(stack.processes.values())


def _start(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**env, "SANIC_HOST": "127.0.0.1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_healthy(stack: Stack, base: str | None = None) -> None:
    """Wait for the service at ``base`` (by default the stack's own) to answer /healthz."""
    base = base or stack.base
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        for name, child in stack.processes.items():
            if child.poll() is not None:
                raise StackError(f"{name} exited: {stack.logs[name].read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise StackError(f"{base} did not become healthy: " + stack.tail())
        time.sleep(1)


def stop(children: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group, then SIGKILL what is still running after the grace time."""
    children = list(children)
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


class Person:
    """Someone writing in the simulator, with its cookie."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        self.seen = 0

    def say(self, text: str, language: str = "en") -> None:
        response = self.client.post(
            "/simulator/messages", json={"text": text, "language": language}
        )
        assert response.status_code == 202, response.text

    def replies(self, count: int, *, timeout: float = 60) -> list[dict[str, Any]]:
        """Wait for ``count`` new outbound messages."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            body = self.client.get("/simulator/messages", params={"after": self.seen}).json()
            for message in body["messages"]:
                self.seen = max(self.seen, message["id"])
                if message["direction"] == "out":
                    found.append(message)
            if len(found) >= count:
                return found
            time.sleep(0.25)
        raise AssertionError(f"expected {count} replies, got {found}")

    def replies_until(self, text: str, *, timeout: float = 60) -> list[dict[str, Any]]:
        """Collect new outbound messages until one has this text."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found.extend(self.replies(1, timeout=deadline - time.monotonic()))
            if any(m["text"] == text for m in found):
                return found
        raise AssertionError(f"no reply {text!r} in {found}")

    def mode(self) -> str:
        return str(
            self.client.get("/simulator/messages", params={"after": self.seen}).json()["mode"]
        )
