"""An invented services directory for demonstrations and tests, marked as demo everywhere.

Every organisation and service here is fictitious: names start with "[Demo]", phone
numbers are placeholders (+000 ...) that reach no one, and every row carries the HSDS
``demo`` flag. A CSO replaces it with its own directory (``helpline services import``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.hsds import (
    DEMO,
    FIELDS,
    ImportSummary,
    Tables,
    attribute_row,
    import_tables,
    stable_id,
    term_id,
)

VERIFIED = "2026-11-01"


@dataclass(frozen=True)
class DemoService:
    key: str
    organisation: str
    name: str
    country: str
    city: str
    needs: tuple[str, ...]
    languages: tuple[str, ...]
    description: str
    days: str = "MO,TU,WE,TH,FR"
    opens: str = "09:00"
    closes: str = "17:00"
    eligibility: str = "Migrant workers of any nationality, free of charge."


SERVICES: tuple[DemoService, ...] = (
    DemoService(
        "lb-shelter",
        "Cedar Migrant Aid",
        "[Demo] Cedar Safe House",
        "LB",
        "Beirut",
        ("shelter", "psychosocial"),
        ("en", "ar", "am", "tl"),
        "Emergency shelter for women migrant domestic workers who left an abusive employer.",
        days="MO,TU,WE,TH,FR,SA,SU",
        opens="00:00",
        closes="23:59",
        eligibility="Women migrant domestic workers; no papers needed.",
    ),
    DemoService(
        "lb-legal",
        "Cedar Migrant Aid",
        "[Demo] Cedar Legal Clinic",
        "LB",
        "Beirut",
        ("legal", "labour_complaint"),
        ("en", "ar", "fr"),
        "Free legal advice and representation: unpaid wages, passports kept, contract disputes.",
    ),
    DemoService(
        "lb-health",
        "North Lebanon Health Network",
        "[Demo] Tripoli Community Clinic",
        "LB",
        "Tripoli",
        ("health",),
        ("ar", "en", "fr"),
        "Primary health care and referrals, whatever the person's legal status.",
    ),
    DemoService(
        "lb-embassy-et",
        "Embassy of Ethiopia (demo entry)",
        "[Demo] Ethiopian Consular Desk",
        "LB",
        "Beirut",
        ("embassy",),
        ("am", "en"),
        "Travel documents, repatriation and help for Ethiopian nationals.",
    ),
    DemoService(
        "lb-psy",
        "Cedar Migrant Aid",
        "[Demo] Cedar Listening Line",
        "LB",
        "Beirut",
        ("psychosocial",),
        ("en", "ar", "am", "ne"),
        "Counselling by phone and in person with trained counsellors.",
    ),
    DemoService(
        "ae-legal",
        "Gulf Workers Rights Centre",
        "[Demo] GWRC Labour Desk",
        "AE",
        "Dubai",
        ("labour_complaint", "legal"),
        ("en", "ar", "tl", "ne"),
        "Help filing a labour complaint and preparing for the labour court.",
    ),
    DemoService(
        "ae-shelter",
        "Gulf Workers Rights Centre",
        "[Demo] GWRC Women's Shelter",
        "AE",
        "Abu Dhabi",
        ("shelter",),
        ("en", "ar", "tl", "id"),
        "Shelter and case management for women who fled abuse or trafficking.",
        days="MO,TU,WE,TH,FR,SA,SU",
        opens="00:00",
        closes="23:59",
    ),
    DemoService(
        "ae-embassy-ph",
        "Philippine Overseas Labor Office (demo entry)",
        "[Demo] Migrant Workers Office Dubai",
        "AE",
        "Dubai",
        ("embassy", "labour_complaint"),
        ("tl", "en"),
        "Assistance to Filipino workers: welfare, repatriation, complaints.",
    ),
    DemoService(
        "ae-health",
        "Emirates Community Health (demo)",
        "[Demo] Al Quoz Workers Clinic",
        "AE",
        "Dubai",
        ("health", "psychosocial"),
        ("en", "ar", "ne", "tl"),
        "Low-cost clinic for workers, with a counsellor on Fridays.",
        days="MO,TU,WE,TH,FR,SA",
    ),
    DemoService(
        "qa-embassy-np",
        "Embassy of Nepal (demo entry)",
        "[Demo] Nepal Labour Section Doha",
        "QA",
        "Doha",
        ("embassy", "labour_complaint"),
        ("ne", "en"),
        "Help for Nepali workers: complaints against employers, rescue, travel documents.",
        days="SU,MO,TU,WE,TH",
    ),
    DemoService(
        "qa-legal",
        "Doha Migrant Justice (demo)",
        "[Demo] Doha Workers Legal Aid",
        "QA",
        "Doha",
        ("legal", "labour_complaint"),
        ("en", "ar", "ne", "tl"),
        "Advice on the labour dispute committees and wage protection.",
        days="SU,MO,TU,WE,TH",
    ),
    DemoService(
        "my-shelter",
        "Selangor Migrant Care (demo)",
        "[Demo] Rumah Selamat Kuala Lumpur",
        "MY",
        "Kuala Lumpur",
        ("shelter", "psychosocial", "health"),
        ("id", "en", "ne"),
        "Shelter, counselling and health checks for trafficked and exploited workers.",
        days="MO,TU,WE,TH,FR,SA,SU",
        opens="00:00",
        closes="23:59",
    ),
    DemoService(
        "my-embassy-id",
        "Embassy of Indonesia (demo entry)",
        "[Demo] Indonesian Citizen Service Kuala Lumpur",
        "MY",
        "Kuala Lumpur",
        ("embassy",),
        ("id", "en"),
        "Protection of Indonesian citizens: passports, shelter referrals, legal help.",
    ),
)


def demo_tables() -> Tables:
    """The demo directory as HSDS tables, every row flagged as demo."""
    tables: Tables = {name: [] for name in FIELDS}
    demo_term = term_id(DEMO)
    organisations: dict[str, str] = {}
    for index, s in enumerate(SERVICES, start=1):
        org_id = organisations.get(s.organisation)
        if org_id is None:
            org_id = organisations[s.organisation] = stable_id("demo-org", s.organisation)
            tables["organization"].append(
                {
                    "id": org_id,
                    "name": s.organisation,
                    "description": "Invented for demonstrations.",
                }
            )
            tables["attribute"].append(attribute_row("organization", org_id, demo_term, DEMO))
        sid = stable_id("demo-service", s.key)
        location_id = stable_id("demo-location", s.key)
        tables["service"].append(
            {
                "id": sid,
                "organization_id": org_id,
                "name": s.name,
                "description": s.description,
                "status": "active",
                "eligibility_description": s.eligibility,
                "fees_description": "Free",
                "assured_date": VERIFIED,
            }
        )
        tables["location"].append(
            {
                "id": location_id,
                "location_type": "physical",
                "organization_id": org_id,
                "name": f"{s.name} ({s.city})",
            }
        )
        tables["address"].append(
            {
                "id": stable_id("demo-address", s.key),
                "location_id": location_id,
                "address_1": "Demo street 1",
                "city": s.city,
                "country": s.country,
                "address_type": "physical",
            }
        )
        tables["service_at_location"].append(
            {"id": stable_id("demo-sal", s.key), "service_id": sid, "location_id": location_id}
        )
        for code in s.languages:
            tables["language"].append(
                {"id": stable_id("demo-language", s.key, code), "service_id": sid, "code": code}
            )
        tables["phone"].append(
            {
                "id": stable_id("demo-phone", s.key),
                "service_id": sid,
                "number": f"+000 {index:03d} 0000",
                "type": "voice",
                "description": "Placeholder number: this demo service does not exist.",
            }
        )
        tables["schedule"].append(
            {
                "id": stable_id("demo-schedule", s.key),
                "service_id": sid,
                "freq": "WEEKLY",
                "byday": s.days,
                "opens_at": s.opens,
                "closes_at": s.closes,
            }
        )
        for need in s.needs:
            tables["attribute"].append(attribute_row("service", sid, term_id(need), need))
        tables["attribute"].append(attribute_row("service", sid, demo_term, DEMO))
    return tables


def seed(session: Session) -> ImportSummary:
    """Load (or refresh) the demo directory; a CSO's own entries are left alone."""
    return import_tables(session, demo_tables(), demo=True)
