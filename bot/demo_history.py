"""Ten weeks of invented, closed cases, so that the figures page has something to show.

Demo only: the people do not exist (their addresses are ``demo:history-N`` and their
contacts are marked unreachable, so nothing is ever sent), every case is closed, and
nothing is written if the history is there already. Cases are opened and flagged
through the case service, then dated back.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import cases, referrals
from bot.inbox import new_pseudonym
from bot.models import Contact, Conversation, DirectoryService, Referral, utcnow

PREFIX = "demo-history-"
CASES = 140
WEEKS = 10
# (country, language, weight): who writes to the demo helpline.
PEOPLE = (
    ("LB", "ar", 10),
    ("LB", "am", 14),
    ("LB", "en", 6),
    ("LB", "tl", 5),
    ("AE", "tl", 9),
    ("AE", "ne", 7),
    ("AE", "en", 5),
    ("QA", "ne", 9),
    ("QA", "en", 4),
    ("MY", "id", 8),
    ("MY", "ne", 4),
)
CHANNELS = (("whatsapp", 6), ("sms", 3), ("telegram", 2))
FLAGS = (
    ("withholding_of_wages", 0.45),
    ("retention_of_identity_documents", 0.35),
    ("excessive_overtime", 0.25),
    ("restriction_of_movement", 0.15),
    ("isolation", 0.1),
    ("physical_sexual_violence", 0.06),
    ("debt_bondage", 0.08),
)
OUTCOMES = (
    ("information_given", 6),
    ("referred_to_service", 4),
    ("referred_to_authorities", 1),
    ("no_response", 2),
)


def present(session: Session) -> bool:
    return (
        session.scalar(select(Contact.id).where(Contact.address_hash.startswith(PREFIX)).limit(1))
        is not None
    )


def seed(session: Session) -> str:
    if present(session):
        return "demo case history: already there"
    rng = random.Random(2026)
    now = utcnow()
    people = [p for p in PEOPLE for _ in range(p[2])]
    channels = [c for c, w in CHANNELS for _ in range(w)]
    outcomes = [o for o, w in OUTCOMES for _ in range(w)]
    services = list(session.scalars(select(DirectoryService).where(DirectoryService.demo)))
    made = referred = 0
    for n in range(CASES):
        country, language, _weight = rng.choice(people)
        channel = rng.choice(channels)
        contact = Contact(
            channel=channel,
            address_hash=f"{PREFIX}{n}",
            address=f"demo:history-{n}",
            pseudonym=new_pseudonym(),
            language=language,
            country=country,
            unreachable=True,
        )
        conversation = Conversation(contact=contact, mode="bot", language=language, country=country)
        session.add_all([contact, conversation])
        session.flush()
        codes = [code for code, chance in FLAGS if rng.random() < chance]
        risk = "high" if codes else "none"
        opened = cases.open_case(
            session,
            conversation,
            reason="red_flag" if codes else "request_human",
            priority="high" if codes else "request",
            channel=channel,
            risk=risk,
            indicators=[{"code": c, "evidence": "(demo)", "confidence": 0.9} for c in codes],
        )
        case = opened.case
        # Busier recent weeks: a helpline that is getting known.
        age = timedelta(days=WEEKS * 7 * (rng.random() ** 1.4), hours=rng.randint(0, 23))
        case.opened_at = now - age
        waited = timedelta(minutes=rng.choice([3, 8, 12, 20, 35, 50, 90, 150, 300, 900, 1800]))
        case.first_response_at = case.opened_at + waited if rng.random() < 0.92 else None
        case.status = cases.CLOSED
        case.outcome = rng.choice(outcomes)
        case.closed_at = case.opened_at + waited + timedelta(hours=rng.randint(1, 72))
        conversation.mode = "bot"
        made += 1
        local = [s for s in services if any(x.location.country == country for x in s.at_locations)]
        if case.outcome == "referred_to_service" and local:
            service = rng.choice(local)
            status = rng.choice(
                [referrals.COMPLETED] * 5
                + [referrals.ACCEPTED] * 2
                + [referrals.DECLINED, referrals.NO_CONTACT, referrals.SENT]
            )
            session.add(
                Referral(
                    case_id=case.id,
                    from_organisation_id=case.organisation_id,
                    to_service_id=service.id,
                    status=status,
                    needs=list(service.needs[:1]),
                    consent_method="in_chat",
                    consent_at=case.opened_at + waited,
                    shared=["language", "needs"],
                    created_at=case.opened_at + waited,
                    respond_by=case.opened_at + waited + referrals.RESPOND_WITHIN,
                    responded_at=None if status == referrals.SENT else case.closed_at,
                    closed_at=case.closed_at
                    if status in {referrals.COMPLETED, referrals.DECLINED, referrals.NO_CONTACT}
                    else None,
                )
            )
            referred += 1
    session.flush()
    return f"demo case history: {made} closed cases over {WEEKS} weeks, {referred} referrals"
