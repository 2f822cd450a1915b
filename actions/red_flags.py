"""What the bot does when a message shows red flags of forced labour.

The NLU component ``bot.redflags.rasa_component.RedFlagExtractor`` puts the
indicators on every parsed message as ``red_flag`` entities and its risk level
under ``red_flag_risk``. From medium risk up:

- the bot acknowledges with care, answers a rights question asked in the same
  message, and asks at most three yes/no screening questions chosen by the
  indicators found (``screening_form``);
- it offers a caseworker and asks consent to share what was said; with consent
  the helpline opens a case whose priority follows the risk.

A request for a person (``action_request_human``) takes the same consent
question; so both paths end in ``action_share_with_caseworker`` or
``action_keep_private``.

Emergencies are not handled here: the component turns them into the
``emergency`` intent, whose action opens an urgent case before anything else.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

RED_FLAG = "red_flag"
# Why a case is opened, kept in the handoff_reason slot until the person consents.
REASON_RED_FLAG = "red_flag"
RISK = "red_flag_risk"
MAX_QUESTIONS = 3
RISK_ORDER = ("none", "low", "medium", "high", "emergency")
# What the bot says to an intent when the red flags are too weak to act on.
USUAL_RESPONSE = {
    "greet": "utter_greet",
    "goodbye": "utter_goodbye",
    "thank": "utter_thank",
    "affirm": "utter_how_can_help",
    "deny": "utter_how_can_help",
    "bot_challenge": "utter_iamabot",
    "out_of_scope": "utter_out_of_scope",
    "nlu_fallback": "utter_default",
}
# Case priority for each risk level (the helpline's queue order).
PRIORITY_OF_RISK = {"emergency": "emergency", "high": "high", "medium": "medium"}

# Screening questions, each a slot asked by utter_ask_<slot>, and the indicators
# it helps to understand. Asked in this order, at most MAX_QUESTIONS of them.
SCREENING: dict[str, tuple[str, ...]] = {
    "screen_safe_now": ("physical_sexual_violence", "intimidation_threats", "imminent_danger"),
    "screen_under_18": ("minor",),
    "screen_documents": ("retention_of_identity_documents",),
    "screen_leave_house": ("restriction_of_movement",),
    "screen_contact_family": ("isolation",),
    "screen_owe_money": ("debt_bondage",),
    "screen_paid": ("withholding_of_wages",),
    "screen_job_promised": ("deception", "abuse_of_vulnerability"),
    "screen_rest_day": ("excessive_overtime",),
    "screen_food_sleep": ("abusive_working_living_conditions",),
}


def latest_flags(tracker: Tracker) -> list[dict[str, Any]]:
    """The red-flag indicators of the latest message: code, evidence, confidence."""
    return [
        {
            "code": e.get("value"),
            "evidence": e.get("evidence", ""),
            "confidence": e.get("confidence_entity"),
        }
        for e in tracker.latest_message.get("entities", [])
        if e.get("entity") == RED_FLAG
    ]


def latest_risk(tracker: Tracker) -> str:
    risk = str(tracker.latest_message.get(RISK) or "none")
    return risk if risk in RISK_ORDER else "none"


def higher_risk(a: str, b: str) -> str:
    """The higher of two risk levels; unknown levels count as none."""
    known = [risk for risk in (a, b) if risk in RISK_ORDER] or ["none"]
    return max(known, key=RISK_ORDER.index)


def merge_flags(
    earlier: list[dict[str, Any]], latest: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Indicators found earlier, then the latest message's, each piece of evidence once."""
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    for flag in [*earlier, *latest]:
        merged.setdefault((flag.get("code"), flag.get("evidence")), flag)
    return list(merged.values())


def forget_request() -> list[EventType]:
    """Clear what a request or a screening kept, once it is shared or refused."""
    slots = ["handoff_reason", "red_flag_codes", "red_flag_risk", "red_flag_indicators", *SCREENING]
    return [SlotSet(slot, None) for slot in slots]


def questions_for(codes: list[str]) -> list[str]:
    """The screening slots to ask for these indicator codes, in asking order."""
    wanted = set(codes)
    return [slot for slot, screened in SCREENING.items() if wanted & set(screened)][:MAX_QUESTIONS]


def case_request(
    reason: str, risk: str, flags: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "reason": reason,
        "priority": PRIORITY_OF_RISK.get(risk, "request"),
        "risk": risk,
        "indicators": flags,
        **extra,
    }


class ActionRedFlag(Action):
    """Acknowledge, answer what was asked, then screen."""

    def name(self) -> str:
        return "action_red_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        flags = latest_flags(tracker)
        risk = latest_risk(tracker)
        answer = self._retrieval_answer(tracker)
        if RISK_ORDER.index(risk) < RISK_ORDER.index("medium"):
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            dispatcher.utter_message(
                response=answer or USUAL_RESPONSE.get(str(intent), "utter_default")
            )
            return []
        dispatcher.utter_message(response="utter_red_flag_ack")
        if answer:
            dispatcher.utter_message(response=answer)
        return [
            SlotSet("handoff_reason", REASON_RED_FLAG),
            SlotSet("red_flag_codes", sorted({f["code"] for f in flags})),
            SlotSet("red_flag_risk", risk),
            SlotSet("red_flag_indicators", flags),
            FollowupAction("screening_form"),
        ]

    @staticmethod
    def _retrieval_answer(tracker: Tracker) -> str | None:
        if (tracker.latest_message.get("intent") or {}).get("name") != "faq":
            return None
        selector = tracker.latest_message.get("response_selector") or {}
        selected = (selector.get("faq") or selector.get("default") or {}).get("response") or {}
        return selected.get("utter_action")


class ValidateScreeningForm(FormValidationAction):
    """Asks only the questions that the indicators call for."""

    def name(self) -> str:
        return "validate_screening_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return questions_for(list(tracker.get_slot("red_flag_codes") or []))


class ActionShareWithCaseworker(Action):
    """The person agreed: open a case carrying the reason, the indicators and the answers."""

    def name(self) -> str:
        return "action_share_with_caseworker"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = str(tracker.get_slot("handoff_reason") or REASON_RED_FLAG)
        risk = str(
            tracker.get_slot("red_flag_risk") or ("medium" if reason == REASON_RED_FLAG else "none")
        )
        answers = {
            slot: tracker.get_slot(slot) for slot in SCREENING if tracker.get_slot(slot) is not None
        }
        dispatcher.utter_message(
            json_message={
                "helpline": {
                    "open_case": case_request(
                        reason,
                        risk if risk in RISK_ORDER else "none",
                        list(tracker.get_slot("red_flag_indicators") or []),
                        consent="given",
                        screening=answers,
                    )
                }
            }
        )
        dispatcher.utter_message(response="utter_handoff")
        return forget_request()


class ActionKeepPrivate(Action):
    """The person did not agree: nothing is shared, and they know how to ask later."""

    def name(self) -> str:
        return "action_keep_private"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_not_shared")
        return forget_request()
