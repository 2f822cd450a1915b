"""bot.rasa_run: Rasa's structured log events reach the log without what people wrote."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bot import rasa_run

SECRET = "madam took my passport"


@pytest.fixture
def rasa_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    rasa_run.install()
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)


def test_message_text_is_blanked_in_rasas_log(
    rasa_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # What Rasa's REST channel logs when it fails to handle a message.
    structlog.get_logger("rasa.core.channels.rest").error(
        "rest.message.received.failure", text=SECRET, sender_id="c-3f9a1e"
    )
    structlog.get_logger("rasa.core.processor").info(
        "processor.actions.log", rasa_events=[{"event": "user", "text": SECRET}], slots={"a": 1}
    )

    lines = [json.loads(record.getMessage()) for record in caplog.records]
    assert SECRET not in json.dumps(lines)
    assert [(line["event"], line.get("text"), line.get("rasa_events")) for line in lines] == [
        ("rest.message.received.failure", "[redacted]", None),
        ("processor.actions.log", None, "[redacted]"),
    ]
    # The conversation's pseudonym stays, to find the failure.
    assert lines[0]["sender_id"] == "c-3f9a1e"


def test_debug_is_capped_at_info(rasa_logging: None) -> None:
    import os

    # Rasa's debug lines print the message ("Received user message '...'").
    assert os.environ["LOG_LEVEL"] == "INFO"
