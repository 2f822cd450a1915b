"""The helpline application for tests, without re-reading the bot's YAML for every test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from fastapi import FastAPI

from bot import nlg
from bot.app import create_app
from bot.app_state import AppState
from bot.config import Settings
from bot.content import Variant, load_responses, response_files


@cache
def _responses(root: Path, stamp: tuple[float, ...]) -> dict[str, list[Variant]]:
    return load_responses(root)


def cached_responses(root: Path) -> dict[str, list[Variant]]:
    """``load_responses``, parsed once per version of the files.

    tests/bot/test_nlg.py tests the real reload.
    """
    return _responses(root, tuple(p.stat().st_mtime for p in response_files(root)))


def speed_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nlg, "load_responses", cached_responses)


def make_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    speed_up(monkeypatch)
    return create_app(settings, run_worker=False)


def make_state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AppState:
    speed_up(monkeypatch)
    return AppState.build(settings)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app behind a real HTTP server on a free loopback port; yields its base URL."""
    import uvicorn

    from tests.helpers.stack import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
