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
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .languages import language_named_in, normalise_language
from .red_flags import higher_risk, latest_flags, latest_risk, merge_flags

REASON_REQUEST_HUMAN = "request_human"
REASON_EMERGENCY = "emergency"
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
    """The person asked for a caseworker: keep what the request carries and ask consent.

    Nothing is shared yet. ``utter_ask_share_with_caseworker`` follows (rules.yml);
    with a yes, ``action_share_with_caseworker`` opens the case, with a no,
    ``action_keep_private`` forgets the request. Emergencies do not wait for
    consent: ``action_emergency`` opens its case at once.
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # Red flags in the same message, or found earlier in a screening that the
        # request interrupted, raise the case's priority and travel with it.
        risk = higher_risk(latest_risk(tracker), str(tracker.get_slot("red_flag_risk") or "none"))
        indicators = merge_flags(
            list(tracker.get_slot("red_flag_indicators") or []), latest_flags(tracker)
        )
        return [
            SlotSet("handoff_reason", REASON_REQUEST_HUMAN),
            SlotSet("red_flag_risk", risk),
            SlotSet("red_flag_indicators", indicators),
        ]


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
