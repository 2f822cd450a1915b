"""The whole helpline for real: Rasa with the trained model, the action server and the service.

One conversation through the simulator (greeting, a rights question, asking for a
person), a caseworker through /api/v1 (list, claim, reply, close), and the bot
answering again. Runs against SQLite, or PostgreSQL and Redis in the second pass.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.config import Settings
from bot.runner import rasa_endpoints

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
HELPLINE = Path(sys.executable).parent / "helpline"
STARTUP_SECONDS = 240
PASSWORD = "correct horse battery staple"
SECRET_PHRASE = "my madam has not paid me for three months"


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


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    logs: dict[str, Path]

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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (ROOT / "models" / ".trained").exists() or not RASA.exists():
        pytest.fail(
            "the integration test needs `make train` (the Rasa runtime and a trained model)"
        )
    var = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("helpline", "rasa", "actions")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        HELPLINE_ENV="test",
        HELPLINE_VAR_DIR=str(var),
        HELPLINE_PORT=str(ports["helpline"]),
        RASA_URL=f"http://127.0.0.1:{ports['rasa']}",
        ACTION_SERVER_URL=f"http://127.0.0.1:{ports['actions']}",
        DATABASE_URL=os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{var}/helpline.db",
        LOG_LEVEL="INFO",
    )
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
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
    settings = Settings.load(env, env_file=None)
    endpoints = rasa_endpoints(settings, ROOT)
    env["RASA_TOKEN"] = settings.rasa_token.reveal()
    commands = {
        "rasa": [
            str(RASA),
            "run",
            "--enable-api",
            "--auth-token",
            env["RASA_TOKEN"],
            "--interface",
            "127.0.0.1",
            "--port",
            str(ports["rasa"]),
            "--model",
            str(ROOT / "models"),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(ROOT / "credentials.yml"),
        ],
        "actions": [
            str(RASA),
            "run",
            "actions",
            "--actions",
            "actions",
            "--port",
            str(ports["actions"]),
        ],
        "helpline": [str(HELPLINE), "serve"],
    }
    logs = {name: var / f"{name}.log" for name in commands}
    children = []
    for name, command in commands.items():
        with logs[name].open("wb") as log:
            children.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env | {"SANIC_HOST": "127.0.0.1"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    base = f"http://127.0.0.1:{ports['helpline']}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            for name, child in zip(commands, children, strict=True):
                if child.poll() is not None:
                    pytest.fail(f"{name} exited: {logs[name].read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "the stack did not become healthy: "
                    + "".join(f"\n--- {n}\n{p.read_text()[-2000:]}" for n, p in logs.items())
                )
            time.sleep(1)
        yield Stack(base=base, env=env, logs=logs)
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


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

    def mode(self) -> str:
        return str(
            self.client.get("/simulator/messages", params={"after": self.seen}).json()["mode"]
        )


def test_healthz_names_every_component(stack: Stack) -> None:
    body = httpx.get(f"{stack.base}/healthz").json()
    expected = {"database", "rasa", "action_server", "worker"} | (
        {"redis"} if "REDIS_URL" in stack.env else set()
    )
    assert set(body["components"]) == expected
    assert body["down"] == []


def test_a_whole_conversation_with_a_caseworker(stack: Stack) -> None:
    stack.cli("orgs", "create", "Helping Hands", "--languages", "en,tl", "--countries", "LB")
    stack.cli(
        "users",
        "create",
        "--org",
        "Helping Hands",
        "--username",
        "amal",
        "--role",
        "caseworker",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    stack.cli(
        "users",
        "create",
        "--org",
        "Helping Hands",
        "--username",
        "rosa",
        "--role",
        "caseworker",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    person = Person(stack.base)

    person.say("hello")
    [greeting] = person.replies(1)
    assert greeting["text"] == english("utter_greet")

    person.say("how much should my salary be")
    [answer] = person.replies(1)
    assert answer["text"] == english("utter_faq/wages")

    person.say("i want to talk to a person")
    [handoff] = person.replies(1)
    assert handoff["text"] == english("utter_handoff")
    assert person.mode() == "human"

    api = httpx.Client(base_url=f"{stack.base}/api/v1", timeout=30)
    token = api.post("/auth/token", json={"username": "amal", "password": PASSWORD}).json()[
        "access_token"
    ]
    colleague = api.post("/auth/token", json={"username": "rosa", "password": PASSWORD}).json()[
        "access_token"
    ]
    amal = {"Authorization": f"Bearer {token}"}
    rosa = {"Authorization": f"Bearer {colleague}"}

    queued = api.get("/cases", params={"status": "queued"}, headers=amal).json()
    assert [(c["reason"], c["priority"], c["channel"]) for c in queued] == [
        ("request_human", "request", "web")
    ]
    case_id = queued[0]["id"]

    # While the case waits, the person's messages reach it and the bot stays silent.
    person.say(SECRET_PHRASE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        case = api.get(f"/cases/{case_id}", headers=amal).json()
        if any(m["text"] == SECRET_PHRASE for m in case["transcript"]):
            break
        time.sleep(0.25)
    assert any(m["text"] == SECRET_PHRASE for m in case["transcript"])

    assert api.post(f"/cases/{case_id}/claim", headers=amal).status_code == 200
    assert api.post(f"/cases/{case_id}/claim", headers=rosa).status_code == 409

    reply = api.post(
        f"/cases/{case_id}/messages", headers=amal, json={"text": "Hello, I am Amal. I can help."}
    )
    assert reply.status_code == 202
    [from_caseworker] = person.replies(1)
    assert (from_caseworker["author"], from_caseworker["text"]) == (
        "caseworker",
        "Hello, I am Amal. I can help.",
    )

    closed = api.post(
        f"/cases/{case_id}/close", headers=amal, json={"outcome": "information_given"}
    )
    assert closed.json()["status"] == "closed"
    [closing] = person.replies(1)
    assert closing["text"] == english("utter_case_closed")
    assert person.mode() == "bot"

    person.say("hi")
    [again] = person.replies(1)
    assert again["text"] == english("utter_greet")

    # Nothing the person wrote reaches a log line.
    for name, path in stack.logs.items():
        assert SECRET_PHRASE not in path.read_text(), name
