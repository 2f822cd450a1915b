"""The red-flag turn: acknowledge, answer, screen with at most three questions, ask consent."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions.red_flags import (
    MAX_QUESTIONS,
    SCREENING,
    ActionKeepPrivate,
    ActionRedFlag,
    ActionShareWithCaseworker,
    ValidateScreeningForm,
    forget_request,
    questions_for,
)

DOMAIN: dict[str, Any] = {}


def flag(code: str, evidence: str, confidence: float = 0.9) -> dict[str, Any]:
    return {
        "entity": "red_flag",
        "value": code,
        "evidence": evidence,
        "confidence_entity": confidence,
    }


def sent(name: str) -> dict[str, Any]:
    return {
        "text": None,
        "buttons": [],
        "elements": [],
        "custom": {},
        "template": name,
        "response": name,
        "image": None,
        "attachment": None,
    }


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["retention_of_identity_documents"], ["screen_documents"]),
        (
            [
                "withholding_of_wages",
                "restriction_of_movement",
                "physical_sexual_violence",
                "minor",
            ],
            ["screen_safe_now", "screen_under_18", "screen_leave_house"],
        ),
        (["deception", "abuse_of_vulnerability"], ["screen_job_promised"]),
        ([], []),
    ],
    ids=["one-indicator", "at-most-three-most-urgent-first", "shared-question", "none"],
)
def test_questions_are_chosen_by_the_indicators(codes: list[str], expected: list[str]) -> None:
    assert questions_for(codes) == expected


def test_every_indicator_has_a_question() -> None:
    codes = {
        "abuse_of_vulnerability",
        "deception",
        "restriction_of_movement",
        "isolation",
        "physical_sexual_violence",
        "intimidation_threats",
        "retention_of_identity_documents",
        "withholding_of_wages",
        "debt_bondage",
        "abusive_working_living_conditions",
        "excessive_overtime",
        "imminent_danger",
        "minor",
    }
    assert {c for screened in SCREENING.values() for c in screened} == codes
    assert MAX_QUESTIONS == 3


@pytest.mark.asyncio
async def test_high_risk_rights_question_is_answered_acknowledged_and_screened(
    dispatcher, make_tracker
):
    flags = [flag("retention_of_identity_documents", "madam took my passport")]
    tracker = make_tracker(
        "madam took my passport what can i do",
        "faq",
        flags,
        red_flag_risk="high",
        response_selector={"faq": {"response": {"utter_action": "utter_faq/passport"}}},
    )

    events = await ActionRedFlag().run(dispatcher, tracker, DOMAIN)

    assert dispatcher.messages == [sent("utter_red_flag_ack"), sent("utter_faq/passport")]
    assert events == [
        SlotSet("handoff_reason", "red_flag"),
        SlotSet("red_flag_codes", ["retention_of_identity_documents"]),
        SlotSet("red_flag_risk", "high"),
        SlotSet(
            "red_flag_indicators",
            [
                {
                    "code": "retention_of_identity_documents",
                    "evidence": "madam took my passport",
                    "confidence": 0.9,
                }
            ],
        ),
        FollowupAction("screening_form"),
    ]


@pytest.mark.asyncio
async def test_low_risk_gets_the_usual_answer_only(dispatcher, make_tracker):
    tracker = make_tracker(
        "hello", "greet", [flag("excessive_overtime", "work a lot", 0.5)], red_flag_risk="low"
    )

    events = await ActionRedFlag().run(dispatcher, tracker, DOMAIN)

    assert (events, dispatcher.messages) == ([], [sent("utter_greet")])


@pytest.mark.asyncio
async def test_screening_form_asks_only_what_the_indicators_call_for(dispatcher, make_tracker):
    tracker = make_tracker("no", "deny", slots={"red_flag_codes": ["debt_bondage", "isolation"]})

    required = await ValidateScreeningForm().required_slots(
        list(SCREENING), dispatcher, tracker, DOMAIN
    )

    assert required == ["screen_contact_family", "screen_owe_money"]


@pytest.mark.asyncio
async def test_consent_opens_a_case_with_indicators_and_answers(dispatcher, make_tracker):
    indicators = [{"code": "debt_bondage", "evidence": "i owe the agency", "confidence": 0.9}]
    tracker = make_tracker(
        "yes",
        "affirm",
        slots={
            "red_flag_risk": "high",
            "red_flag_indicators": indicators,
            "screen_owe_money": True,
        },
    )

    events = await ActionShareWithCaseworker().run(dispatcher, tracker, DOMAIN)

    assert dispatcher.messages[0]["custom"] == {
        "helpline": {
            "open_case": {
                "reason": "red_flag",
                "priority": "high",
                "risk": "high",
                "indicators": indicators,
                "consent": "given",
                "screening": {"screen_owe_money": True},
            }
        }
    }
    assert dispatcher.messages[1] == sent("utter_handoff")
    assert events == forget_request()
    assert {e["name"] for e in events} >= {"handoff_reason", "red_flag_indicators", *SCREENING}


@pytest.mark.asyncio
async def test_consent_to_a_request_for_a_person_opens_a_request_case(dispatcher, make_tracker):
    tracker = make_tracker(
        "yes", "affirm", slots={"handoff_reason": "request_human", "red_flag_risk": "none"}
    )

    await ActionShareWithCaseworker().run(dispatcher, tracker, DOMAIN)

    assert dispatcher.messages[0]["custom"]["helpline"]["open_case"] == {
        "reason": "request_human",
        "priority": "request",
        "risk": "none",
        "indicators": [],
        "consent": "given",
        "screening": {},
    }
    assert dispatcher.messages[1] == sent("utter_handoff")


@pytest.mark.asyncio
async def test_refusal_shares_nothing(dispatcher, make_tracker):
    tracker = make_tracker("no", "deny", slots={"red_flag_risk": "medium"})

    events = await ActionKeepPrivate().run(dispatcher, tracker, DOMAIN)

    assert dispatcher.messages == [sent("utter_not_shared")]
    assert all(not m["custom"] for m in dispatcher.messages)
    assert events == forget_request()
