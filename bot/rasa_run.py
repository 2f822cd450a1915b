"""Start Rasa with what people write kept out of its log.

Rasa logs some events with the message text, slots or events attached (a message it
failed to handle, for one: ``rest.message.received.failure`` carries ``text``). Every
such event passes through ``rasa.utils.log_utils._anonymizer``, which Rasa leaves to an
enterprise plugin; here it is replaced, before Rasa configures its logging, by one that
blanks those values. Its debug lines carry text too, so Rasa logs at INFO at most.

Runs in the Rasa runtime and takes ``rasa``'s own arguments:
``.venv-rasa/bin/python -m bot.rasa_run run --enable-api ...``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

REDACTED = "[redacted]"
# Rasa's own list (rasa/utils/log_utils.py), and the few keys it names elsewhere.
CONTENT_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
        "events",
        "slots",
        "metadata",
    }
)
MOST_VERBOSE = "INFO"


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: the content of a log event replaced by a marker."""
    for key in CONTENT_KEYS & event.keys():
        if event[key] not in (None, "", [], {}):
            event[key] = REDACTED
    return event


def install() -> None:
    from rasa.utils import log_utils

    log_utils._anonymizer = redact
    if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
        os.environ["LOG_LEVEL"] = MOST_VERBOSE


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    if "--debug" in sys.argv or "-vv" in sys.argv:
        sys.argv = [a for a in sys.argv if a not in {"--debug", "-vv"}]
    rasa_main()


if __name__ == "__main__":
    main()
