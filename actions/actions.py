"""Custom actions: read the tracker, tell the helpline what to do, return events.

The helpline owns cases, languages and stored messages. Actions only ask it to
act through control messages, `{"helpline": {<command>: <arguments>}}`, sent
with `json_message`; they reach the helpline as the `custom` part of Rasa's
REST output. Texts are named responses, rendered in the person's language by
the helpline's NLG endpoint.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .languages import language_named_in, normalise_language
from .red_flags import PRIORITY_OF_RISK, latest_flags, latest_risk

REASON_REQUEST_HUMAN = "request_human"
REASON_EMERGENCY = "emergency"
PRIORITY_REQUEST = "request"
PRIORITY_EMERGENCY = "emergency"


def send_command(dispatcher: CollectingDispatcher, command: str, argument: Any) -> None:
    """Send one control command to the helpline."""
    dispatcher.utter_message(json_message={"helpline": {command: argument}})


def requested_language(tracker: Tracker) -> str | None:
    """The first supported language named in the latest message, as an ISO code."""
    for value in tracker.get_latest_entity_values("language"):
        code = normalise_language(str(value))
        if code:
            return code
    # No usable entity: the name may be joined to other letters ("بالعربي").
    return language_named_in(tracker.latest_message.get("text") or "")


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_handoff")
        # Red flags in the same message raise the case's priority and travel with it.
        risk = latest_risk(tracker)
        send_command(
            dispatcher,
            "open_case",
            {
                "reason": REASON_REQUEST_HUMAN,
                "priority": PRIORITY_OF_RISK.get(risk, PRIORITY_REQUEST),
                "risk": risk,
                "indicators": latest_flags(tracker),
            },
        )
        return []


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # The case opens before any text, so that the alert is not held up by
        # the rendering of the message.
        send_command(
            dispatcher,
            "open_case",
            {
                "reason": REASON_EMERGENCY,
                "priority": PRIORITY_EMERGENCY,
                "risk": "emergency",
                "indicators": latest_flags(tracker),
            },
        )
        dispatcher.utter_message(response="utter_emergency")
        return []


class ActionSetLanguage(Action):
    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        code = requested_language(tracker)
        if code is None:
            dispatcher.utter_message(response="utter_choose_language")
            return []
        send_command(dispatcher, "set_language", code)
        # The NLG endpoint would otherwise render this in the old language,
        # taken from the message metadata.
        dispatcher.utter_message(response="utter_language_set", language=code)
        return []


class ActionEraseData(Action):
    def name(self) -> str:
        return "action_erase_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        send_command(dispatcher, "erase", {})
        dispatcher.utter_message(response="utter_erased")
        return []
