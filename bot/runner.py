"""``helpline run``: the whole helpline in one terminal, from the Procfile.

Starts every Procfile process in its own process group with the settings in its
environment, prefixes their output, waits until ``/healthz`` is green, prints the
URLs, and on Ctrl-C (or when any process dies) stops them all.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from bot.app_state import PROJECT_ROOT
from bot.config import Settings
from bot.tracker_store import REDIS_KEY_PREFIX, sqlite_path

STOP_GRACE_SECONDS = 15
READY_TIMEOUT_SECONDS = 240
COLOURS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m")
RESET = "\033[0m"


def read_procfile(path: Path) -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


def rasa_endpoints(settings: Settings, root: Path, *, nlg_port: int | None = None) -> Path:
    """endpoints.yml with this helpline's URLs, written into var/ (0600).

    The SQLite tracker store moves under var/; with REDIS_URL, Rasa's tracker and
    lock stores use Redis. ``nlg_port`` names a service of its own for Rasa's NLG
    requests (docs/scaling.md); by default the helpline's service answers them.
    """
    folder = settings.var_dir / "rasa"
    folder.mkdir(parents=True, exist_ok=True)
    endpoints = yaml.safe_load((root / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["nlg"]["url"] = f"http://127.0.0.1:{nlg_port or settings.port}/nlg"
    endpoints["action_endpoint"]["url"] = f"{settings.action_server_url}/webhook"
    if settings.redis_url:
        url = urlsplit(settings.redis_url)
        store = {
            "url": url.hostname or "127.0.0.1",
            "port": url.port or 6379,
            "db": int((url.path or "/0").lstrip("/") or 0),
            "use_ssl": url.scheme == "rediss",
            "key_prefix": REDIS_KEY_PREFIX,
        }
        if url.password:
            store["password"] = url.password
        endpoints["tracker_store"] = {
            "type": "redis",
            **store,
            # A tracker nobody wrote to for the retention period expires on its own.
            "record_exp": settings.retention_days * 86400,
        }
        endpoints["lock_store"] = {"type": "redis", **store}
    else:
        endpoints["tracker_store"]["db"] = str(sqlite_path(settings))
    path = folder / "endpoints.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(endpoints, handle, sort_keys=False)
    return path


def child_environment(settings: Settings, root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_TOKEN=settings.rasa_token.reveal(),
        RASA_ENDPOINTS=str(rasa_endpoints(settings, root)),
        HELPLINE_VAR_DIR=str(settings.var_dir),
        HELPLINE_PORT=str(settings.port),
        RASA_PORT=str(urlsplit(settings.rasa_url).port or 5005),
        ACTIONS_PORT=str(urlsplit(settings.action_server_url).port or 5055),
        PYTHONUNBUFFERED="1",
    )
    return env


def _pump(name: str, colour: str, stream: object) -> None:
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{colour}{name:>8} |{RESET} {line.decode('utf-8', 'replace')}")
        sys.stdout.flush()


def run(settings: Settings, root: Path = PROJECT_ROOT) -> int:
    processes = read_procfile(root / "Procfile")
    env = child_environment(settings, root)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def stop(*_args: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for number, (name, command) in enumerate(processes.items()):
        # The commands are the project's own Procfile lines.
        child = subprocess.Popen(  # noqa: S603
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=root,
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        children[name] = child
        colour = COLOURS[number % len(COLOURS)]
        threading.Thread(target=_pump, args=(name, colour, child.stdout), daemon=True).start()
        print(f"started {name}: {shlex.split(command)[0]} (pid {child.pid})", flush=True)

    base = f"http://{settings.host}:{settings.port}"
    ready = False
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    exit_code = 0
    while not stopping.is_set():
        dead = [name for name, child in children.items() if child.poll() is not None]
        if dead:
            print(
                f"\n{', '.join(dead)} stopped (exit {children[dead[0]].returncode}); "
                "stopping the rest.",
                flush=True,
            )
            exit_code = 1
            break
        if not ready:
            try:
                ready = httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                print(
                    f"\nThe helpline is running.\n"
                    f"  Chat simulator:  {base}/\n"
                    f"  Dashboard:       {base}/dashboard  (demo accounts: helpline demo seed)\n"
                    f"  Caseworker API:  {base}/api/v1\n"
                    f"  API docs:        {base}/api/docs  (OpenAPI: {base}/openapi.json)\n"
                    f"  Health:          {base}/healthz\n"
                    f"  Rasa (local):    {settings.rasa_url}\n"
                    f"Press Ctrl-C to stop everything.\n",
                    flush=True,
                )
            elif time.monotonic() > deadline:
                print(
                    "\nThe helpline did not become healthy in time; see the logs above.", flush=True
                )
                exit_code = 1
                break
        stopping.wait(1.0)
    _stop_all(children)
    return exit_code


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it.", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    print("All processes stopped.", flush=True)
