"""Open Referral HSDS 3.0: the services directory in and out, as CSV tables or JSON.

A CSO keeps its directory in whatever tool it likes and exchanges it in the
Human Services Data Specification: a folder of CSV files (``organization.csv``,
``service.csv``, ``location.csv``, ``address.csv``, ``service_at_location.csv``,
``language.csv``, ``phone.csv``, ``schedule.csv``, ``taxonomy.csv``,
``taxonomy_term.csv``, ``attribute.csv``) or JSON (an array of HSDS ``service``
objects with their organisation, locations, languages, phones and schedules
nested, or an API page ``{"contents": [...]}``).

What the helpline needs beyond HSDS travels as HSDS attributes: the needs a
service meets are terms of the ``migrant-helpline-needs`` taxonomy, and demo rows
carry the ``demo`` term of ``migrant-helpline-flags``. Importing is all or
nothing: every problem is reported with its file, row and field, and nothing is
written unless the whole directory is sound. Rows are matched by their HSDS id,
so importing a newer file updates the directory; for each service in the file, the
file is the truth about its locations, languages, phones and schedules.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import DirectoryImportError
from bot.models import (
    DirectoryLanguage,
    DirectoryLocation,
    DirectoryOrganization,
    DirectoryPhone,
    DirectorySchedule,
    DirectoryService,
    DirectoryServiceAtLocation,
)

Row = dict[str, str]
Tables = dict[str, list[Row]]

NEEDS = ("shelter", "legal", "health", "labour_complaint", "embassy", "psychosocial")
NEEDS_TAXONOMY = "migrant-helpline-needs"
FLAGS_TAXONOMY = "migrant-helpline-flags"
DEMO = "demo"
# Terms of common taxonomies (Open Eligibility, 211 LA) that mean one of our needs.
NEED_ALIASES = {
    "emergency shelter": "shelter",
    "housing": "shelter",
    "temporary shelter": "shelter",
    "legal": "legal",
    "legal services": "legal",
    "legal assistance": "legal",
    "health": "health",
    "health care": "health",
    "medical care": "health",
    "labor complaint": "labour_complaint",
    "labour complaint": "labour_complaint",
    "employment rights": "labour_complaint",
    "consular services": "embassy",
    "embassy": "embassy",
    "counseling": "psychosocial",
    "mental health care": "psychosocial",
    "psychosocial support": "psychosocial",
}
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")

# HSDS 3.0 tabular columns, in the specification's order.
FIELDS: dict[str, tuple[str, ...]] = {
    "organization": (
        "id",
        "name",
        "alternate_name",
        "description",
        "email",
        "website",
        "tax_status",
        "tax_id",
        "year_incorporated",
        "legal_status",
        "logo",
        "uri",
        "parent_organization_id",
    ),
    "service": (
        "id",
        "organization_id",
        "program_id",
        "name",
        "alternate_name",
        "description",
        "url",
        "email",
        "status",
        "interpretation_services",
        "application_process",
        "fees_description",
        "wait_time",
        "fees",
        "accreditations",
        "eligibility_description",
        "minimum_age",
        "maximum_age",
        "assured_date",
        "assurer_email",
        "licenses",
        "alert",
        "last_modified",
    ),
    "location": (
        "id",
        "location_type",
        "url",
        "organization_id",
        "name",
        "alternate_name",
        "description",
        "transportation",
        "latitude",
        "longitude",
        "external_identifier",
        "external_identifier_type",
    ),
    "address": (
        "id",
        "location_id",
        "attention",
        "address_1",
        "address_2",
        "city",
        "region",
        "state_province",
        "postal_code",
        "country",
        "address_type",
    ),
    "service_at_location": ("id", "service_id", "location_id", "description"),
    "language": ("id", "service_id", "location_id", "phone_id", "name", "code", "note"),
    "phone": (
        "id",
        "location_id",
        "service_id",
        "organization_id",
        "contact_id",
        "service_at_location_id",
        "number",
        "extension",
        "type",
        "description",
    ),
    "schedule": (
        "id",
        "service_id",
        "location_id",
        "service_at_location_id",
        "valid_from",
        "valid_to",
        "dtstart",
        "timezone",
        "until",
        "count",
        "wkst",
        "freq",
        "interval",
        "byday",
        "byweekno",
        "bymonthday",
        "byyearday",
        "description",
        "opens_at",
        "closes_at",
        "schedule_link",
        "attending_type",
        "notes",
    ),
    "taxonomy": ("id", "name", "description", "uri", "version"),
    "taxonomy_term": (
        "id",
        "code",
        "name",
        "description",
        "parent_id",
        "taxonomy",
        "language",
        "taxonomy_id",
        "term_uri",
    ),
    "attribute": (
        "id",
        "link_id",
        "taxonomy_term_id",
        "link_type",
        "link_entity",
        "value",
        "label",
    ),
}

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
NAMESPACE = uuid.UUID("6f1c1d2e-8d7a-4f59-9a3e-2b1f0c6d9e41")


def stable_id(*parts: str) -> str:
    """A UUID derived from names, so that exports of the same directory are identical."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def term_id(code: str) -> str:
    """The id of a need's term, or of the demo flag's."""
    return stable_id("term", FLAGS_TAXONOMY if code == DEMO else NEEDS_TAXONOMY, code)


def attribute_row(entity: str, link_id: str, term: str, code: str) -> Row:
    return {
        "id": stable_id("attribute", link_id, term),
        "link_id": link_id,
        "taxonomy_term_id": term,
        "link_type": "flag" if code == DEMO else "need",
        "link_entity": entity,
        "label": code,
    }


def _taxonomy_tables() -> tuple[list[Row], list[Row]]:
    taxonomies = [
        {
            "id": stable_id("taxonomy", NEEDS_TAXONOMY),
            "name": NEEDS_TAXONOMY,
            "description": "What a migrant worker needs help with (migrant helpline)",
            "version": "1",
        },
        {
            "id": stable_id("taxonomy", FLAGS_TAXONOMY),
            "name": FLAGS_TAXONOMY,
            "description": "Flags of the migrant helpline: demo marks invented sample data",
            "version": "1",
        },
    ]
    terms = [
        {
            "id": stable_id("term", NEEDS_TAXONOMY, need),
            "code": need,
            "name": need.replace("_", " "),
            "taxonomy": NEEDS_TAXONOMY,
            "taxonomy_id": taxonomies[0]["id"],
        }
        for need in NEEDS
    ]
    terms.append(
        {
            "id": stable_id("term", FLAGS_TAXONOMY, DEMO),
            "code": DEMO,
            "name": "demo data",
            "taxonomy": FLAGS_TAXONOMY,
            "taxonomy_id": taxonomies[1]["id"],
        }
    )
    return taxonomies, terms


# ---------------------------------------------------------------- database -> tables


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def export_tables(session: Session) -> Tables:
    tables: Tables = {name: [] for name in FIELDS}
    taxonomies, terms = _taxonomy_tables()
    tables["taxonomy"], tables["taxonomy_term"] = taxonomies, terms
    demo_term = term_id(DEMO)

    orgs = {o.id: o for o in session.scalars(select(DirectoryOrganization))}
    for org in sorted(orgs.values(), key=lambda o: o.hsds_id):
        tables["organization"].append(
            {
                "id": org.hsds_id,
                "name": org.name,
                "alternate_name": _text(org.alternate_name),
                "description": _text(org.description),
                "email": _text(org.email),
                "website": _text(org.website),
            }
        )
        if org.demo:
            tables["attribute"].append(attribute_row("organization", org.hsds_id, demo_term, DEMO))
    locations = {loc.id: loc for loc in session.scalars(select(DirectoryLocation))}
    for loc in sorted(locations.values(), key=lambda x: x.hsds_id):
        tables["location"].append(
            {
                "id": loc.hsds_id,
                "location_type": "physical",
                "organization_id": orgs[loc.organization_id].hsds_id
                if loc.organization_id in orgs
                else "",
                "name": _text(loc.name),
                "description": _text(loc.description),
                "transportation": _text(loc.transportation),
                "latitude": _text(loc.latitude),
                "longitude": _text(loc.longitude),
            }
        )
        if loc.address_1 or loc.city or loc.country:
            tables["address"].append(
                {
                    "id": loc.address_hsds_id or stable_id("address", loc.hsds_id),
                    "location_id": loc.hsds_id,
                    "address_1": _text(loc.address_1),
                    "city": _text(loc.city),
                    "region": _text(loc.region),
                    "state_province": _text(loc.state_province),
                    "postal_code": _text(loc.postal_code),
                    "country": _text(loc.country),
                    "address_type": "physical",
                }
            )
    for service in sorted(session.scalars(select(DirectoryService)), key=lambda s: s.hsds_id):
        sid = service.hsds_id
        tables["service"].append(
            {
                "id": sid,
                "organization_id": orgs[service.organization_id].hsds_id,
                "name": service.name,
                "alternate_name": _text(service.alternate_name),
                "description": _text(service.description),
                "url": _text(service.url),
                "email": _text(service.email),
                "status": service.status,
                "interpretation_services": _text(service.interpretation_services),
                "application_process": _text(service.application_process),
                "fees_description": _text(service.fees_description),
                "eligibility_description": _text(service.eligibility_description),
                "minimum_age": _text(service.minimum_age),
                "maximum_age": _text(service.maximum_age),
                "assured_date": _text(service.assured_date),
                "assurer_email": _text(service.assurer_email),
            }
        )
        for sal in sorted(service.at_locations, key=lambda x: x.hsds_id):
            tables["service_at_location"].append(
                {
                    "id": sal.hsds_id,
                    "service_id": sid,
                    "location_id": locations[sal.location_id].hsds_id,
                    "description": _text(sal.description),
                }
            )
        for language in service.languages:
            tables["language"].append(
                {
                    "id": language.hsds_id,
                    "service_id": sid,
                    "name": _text(language.name),
                    "code": language.code,
                    "note": _text(language.note),
                }
            )
        for phone in service.phones:
            tables["phone"].append(
                {
                    "id": phone.hsds_id,
                    "service_id": sid,
                    "number": phone.number,
                    "extension": _text(phone.extension),
                    "type": _text(phone.type),
                    "description": _text(phone.description),
                }
            )
        for schedule in service.schedules:
            tables["schedule"].append(
                {
                    "id": schedule.hsds_id,
                    "service_id": sid,
                    "valid_from": _text(schedule.valid_from),
                    "valid_to": _text(schedule.valid_to),
                    "timezone": _text(schedule.timezone),
                    "freq": _text(schedule.freq),
                    "byday": _text(schedule.byday),
                    "description": _text(schedule.description),
                    "opens_at": _text(schedule.opens_at),
                    "closes_at": _text(schedule.closes_at),
                }
            )
        for need in service.needs:
            tables["attribute"].append(attribute_row("service", sid, term_id(need), need))
        if service.demo:
            tables["attribute"].append(attribute_row("service", sid, demo_term, DEMO))
    return {name: [_complete(name, row) for row in rows] for name, rows in tables.items()}


def _complete(table: str, row: Row) -> Row:
    return {column: row.get(column, "") for column in FIELDS[table]}


# ---------------------------------------------------------------- files <-> tables


def write_csv(tables: Tables, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, columns in FIELDS.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(_complete(name, row) for row in tables.get(name, []))


def read_csv(folder: Path) -> Tables:
    if not (folder / "organization.csv").is_file() or not (folder / "service.csv").is_file():
        raise DirectoryImportError(
            [f"{folder}: an HSDS folder needs at least organization.csv and service.csv"]
        )
    tables: Tables = {}
    for name in FIELDS:
        path = folder / f"{name}.csv"
        if not path.is_file():
            continue
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                tables[name] = [
                    {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
                    for row in csv.DictReader(handle)
                ]
        except (UnicodeDecodeError, csv.Error) as error:
            raise DirectoryImportError(
                [f"{path.name}: cannot be read as UTF-8 CSV: {error}"]
            ) from None
    return tables


def write_json(tables: Tables, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nest(tables), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> Tables:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DirectoryImportError([f"{path.name}: not valid JSON: {error}"]) from None
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        document = document["contents"]
    if not isinstance(document, list) or not all(isinstance(s, dict) for s in document):
        raise DirectoryImportError(
            [f"{path.name}: expected an array of HSDS service objects or {{'contents': [...]}}"]
        )
    return flatten(document)


def _scalar_fields(table: str, item: dict[str, Any]) -> Row:
    return {
        c: _text(item.get(c)) for c in FIELDS[table] if not isinstance(item.get(c), dict | list)
    }


def nest(tables: Tables) -> list[dict[str, Any]]:
    """Tables -> HSDS 3.0 ``service`` objects with their related objects inside."""
    by_id = {name: {row["id"]: row for row in rows} for name, rows in tables.items()}
    children: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for name, key in (
        ("service_at_location", "service_id"),
        ("language", "service_id"),
        ("phone", "service_id"),
        ("schedule", "service_id"),
        ("address", "location_id"),
        ("attribute", "link_id"),
    ):
        for row in tables.get(name, []):
            children[(name, key, row.get(key, ""))].append(row)

    def values(row: Row, *drop: str) -> dict[str, Any]:
        return {k: v for k, v in row.items() if v != "" and k not in drop}

    def attributes(link_id: str) -> list[dict[str, Any]]:
        return [
            values(a, "link_id")
            | {"taxonomy_term": values(by_id["taxonomy_term"].get(a["taxonomy_term_id"], {}))}
            for a in children[("attribute", "link_id", link_id)]
        ]

    services = []
    for service in tables.get("service", []):
        org = by_id["organization"].get(service["organization_id"], {})
        locations = []
        for sal in children[("service_at_location", "service_id", service["id"])]:
            location = by_id["location"].get(sal["location_id"], {})
            locations.append(
                values(sal, "service_id", "location_id")
                | {
                    "location": values(location)
                    | {
                        "addresses": [
                            values(a, "location_id")
                            for a in children[("address", "location_id", location.get("id", ""))]
                        ]
                    }
                }
            )
        services.append(
            values(service)
            | {
                "organization": values(org) | {"attributes": attributes(org.get("id", ""))},
                "service_at_locations": locations,
                "languages": [
                    values(x, "service_id")
                    for x in children[("language", "service_id", service["id"])]
                ],
                "phones": [
                    values(x, "service_id")
                    for x in children[("phone", "service_id", service["id"])]
                ],
                "schedules": [
                    values(x, "service_id")
                    for x in children[("schedule", "service_id", service["id"])]
                ],
                "attributes": attributes(service["id"]),
            }
        )
    return services


def flatten(services: list[dict[str, Any]]) -> Tables:
    """HSDS 3.0 ``service`` objects -> tables (the inverse of :func:`nest`)."""
    tables: Tables = {name: [] for name in FIELDS}
    seen: dict[str, set[str]] = defaultdict(set)

    def add(table: str, row: Row) -> None:
        if row.get("id") and row["id"] in seen[table]:
            return
        seen[table].add(row.get("id", ""))
        tables[table].append(row)

    def add_attributes(items: Iterable[Any], link_id: str, entity: str) -> None:
        for attribute in items:
            if not isinstance(attribute, dict):
                continue
            term = attribute.get("taxonomy_term") or {}
            if isinstance(term, dict) and term.get("id"):
                add("taxonomy_term", _scalar_fields("taxonomy_term", term))
            row = _scalar_fields("attribute", attribute)
            row.setdefault("link_id", link_id)
            row["link_id"] = row["link_id"] or link_id
            row["link_entity"] = row.get("link_entity") or entity
            if not row.get("taxonomy_term_id") and isinstance(term, dict):
                row["taxonomy_term_id"] = _text(term.get("id"))
            add("attribute", row)

    for service in services:
        sid = _text(service.get("id"))
        org = service.get("organization") or {}
        if isinstance(org, dict) and org:
            add("organization", _scalar_fields("organization", org))
            add_attributes(org.get("attributes") or [], _text(org.get("id")), "organization")
        row = _scalar_fields("service", service)
        if not row.get("organization_id") and isinstance(org, dict):
            row["organization_id"] = _text(org.get("id"))
        add("service", row)
        for sal in service.get("service_at_locations") or []:
            location = sal.get("location") or {}
            lid = _text(location.get("id") or sal.get("location_id"))
            if location:
                add("location", _scalar_fields("location", location))
                for address in location.get("addresses") or []:
                    add("address", _scalar_fields("address", address) | {"location_id": lid})
            add(
                "service_at_location",
                _scalar_fields("service_at_location", sal)
                | {"service_id": sid, "location_id": lid},
            )
        for table, key in (
            ("language", "languages"),
            ("phone", "phones"),
            ("schedule", "schedules"),
        ):
            for item in service.get(key) or []:
                add(table, _scalar_fields(table, item) | {"service_id": sid})
        add_attributes(service.get("attributes") or [], sid, "service")
    return tables


# ---------------------------------------------------------------- tables -> database


@dataclass
class ImportSummary:
    counts: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        return ", ".join(f"{n} {table}" for table, n in self.counts.items())


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def require(self, table: str, index: int, row: Row, *names: str) -> None:
        for name in names:
            if not row.get(name):
                self.problems.append(f"{table}.csv row {index + 2}: {name} is required")

    def match(self, table: str, index: int, row: Row, name: str, pattern: re.Pattern[str]) -> None:
        value = row.get(name, "")
        if value and not pattern.match(value):
            self.problems.append(
                f"{table}.csv row {index + 2}: {name} {value!r} is not in the expected format "
                f"({'YYYY-MM-DD' if pattern is DATE else 'HH:MM'})"
            )

    def integer(self, table: str, index: int, row: Row, name: str) -> None:
        value = row.get(name, "")
        if value and not value.isdigit():
            self.problems.append(f"{table}.csv row {index + 2}: {name} {value!r} is not a number")

    def known(self, table: str, index: int, row: Row, name: str, ids: set[str]) -> None:
        value = row.get(name, "")
        if value and value not in ids:
            self.problems.append(
                f"{table}.csv row {index + 2}: {name} {value!r} names no row of the directory"
            )


def _needs_of_terms(tables: Tables) -> dict[str, str]:
    """taxonomy_term id -> need code, or ``demo``."""
    known = {stable_id("term", NEEDS_TAXONOMY, n): n for n in NEEDS}
    known[stable_id("term", FLAGS_TAXONOMY, DEMO)] = DEMO
    taxonomy_names = {t["id"]: t.get("name", "") for t in tables.get("taxonomy", [])}
    for term in tables.get("taxonomy_term", []):
        taxonomy = term.get("taxonomy") or taxonomy_names.get(term.get("taxonomy_id", ""), "")
        code = (term.get("code") or "").strip().lower()
        name = (term.get("name") or "").strip().lower()
        if taxonomy == FLAGS_TAXONOMY and code == DEMO:
            known[term["id"]] = DEMO
        elif code in NEEDS:
            known[term["id"]] = code
        elif name in NEED_ALIASES or code in NEED_ALIASES:
            known[term["id"]] = NEED_ALIASES.get(name) or NEED_ALIASES[code]
    return known


def validate(session: Session, tables: Tables) -> None:
    check = _Checker()
    existing_orgs = set(session.scalars(select(DirectoryOrganization.hsds_id)))
    existing_locations = set(session.scalars(select(DirectoryLocation.hsds_id)))
    existing_services = set(session.scalars(select(DirectoryService.hsds_id)))
    org_ids = existing_orgs | {r.get("id", "") for r in tables.get("organization", [])}
    service_ids = existing_services | {r.get("id", "") for r in tables.get("service", [])}
    location_ids = existing_locations | {r.get("id", "") for r in tables.get("location", [])}
    for table, rows in tables.items():
        seen: set[str] = set()
        for i, row in enumerate(rows):
            check.require(table, i, row, "id")
            if row.get("id") in seen:
                check.problems.append(f"{table}.csv row {i + 2}: id {row['id']!r} is repeated")
            seen.add(row.get("id", ""))
            if len(row.get("id", "")) > 64:
                check.problems.append(f"{table}.csv row {i + 2}: id longer than 64 characters")
    for i, row in enumerate(tables.get("organization", [])):
        check.require("organization", i, row, "name")
    for i, row in enumerate(tables.get("service", [])):
        check.require("service", i, row, "name", "organization_id")
        check.known("service", i, row, "organization_id", org_ids)
        status = row.get("status") or "active"
        if status not in SERVICE_STATUSES:
            check.problems.append(
                f"service.csv row {i + 2}: status {status!r} is not one of {', '.join(SERVICE_STATUSES)}"
            )
        check.match("service", i, row, "assured_date", DATE)
        check.integer("service", i, row, "minimum_age")
        check.integer("service", i, row, "maximum_age")
    for i, row in enumerate(tables.get("location", [])):
        check.known("location", i, row, "organization_id", org_ids)
    for i, row in enumerate(tables.get("address", [])):
        check.require("address", i, row, "location_id")
        check.known("address", i, row, "location_id", location_ids)
        country = row.get("country", "")
        if country and not (len(country) == 2 and country.isalpha()):
            check.problems.append(
                f"address.csv row {i + 2}: country {country!r} is not an ISO 3166 alpha-2 code"
            )
    for i, row in enumerate(tables.get("service_at_location", [])):
        check.require("service_at_location", i, row, "service_id", "location_id")
        check.known("service_at_location", i, row, "service_id", service_ids)
        check.known("service_at_location", i, row, "location_id", location_ids)
    for table, required in (("language", "code"), ("phone", "number"), ("schedule", None)):
        for i, row in enumerate(tables.get(table, [])):
            if required:
                check.require(table, i, row, required)
            if not row.get("service_id"):
                # The helpline attaches languages, phones and hours to services only.
                continue
            check.known(table, i, row, "service_id", service_ids)
    for i, row in enumerate(tables.get("schedule", [])):
        check.match("schedule", i, row, "opens_at", TIME)
        check.match("schedule", i, row, "closes_at", TIME)
        check.match("schedule", i, row, "valid_from", DATE)
        check.match("schedule", i, row, "valid_to", DATE)
    if check.problems:
        raise DirectoryImportError(check.problems)


def _none(value: str | None) -> str | None:
    return value if value else None


def _existing(session: Session, model: type[Any], rows: Iterable[Row]) -> dict[str, Any]:
    """The rows of ``model`` the import names, by HSDS id, in one query a thousand."""
    ids = sorted({row["id"] for row in rows})
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found.update(
            (row.hsds_id, row)
            for row in session.scalars(select(model).where(model.hsds_id.in_(chunk)))
        )
    return found


def _upsert(
    session: Session, model: type[Any], known: dict[str, Any], hsds_id: str, **values: Any
) -> Any:
    row = known.get(hsds_id)
    if row is None:
        row = known[hsds_id] = model(hsds_id=hsds_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    return row


def import_tables(session: Session, tables: Tables, *, demo: bool = False) -> ImportSummary:
    """Write a validated directory; ``demo`` marks every row as demo data."""
    validate(session, tables)
    terms = _needs_of_terms(tables)
    flags: dict[str, set[str]] = defaultdict(set)
    for attribute in tables.get("attribute", []):
        code = terms.get(attribute.get("taxonomy_term_id", ""))
        if code:
            flags[attribute.get("link_id", "")].add(code)
    has_attributes = bool(tables.get("attribute"))
    summary = ImportSummary()

    orgs: dict[str, DirectoryOrganization] = {}
    known_orgs = _existing(session, DirectoryOrganization, tables.get("organization", []))
    for row in tables.get("organization", []):
        orgs[row["id"]] = _upsert(
            session,
            DirectoryOrganization,
            known_orgs,
            row["id"],
            name=row["name"],
            alternate_name=_none(row.get("alternate_name")),
            description=_none(row.get("description")),
            email=_none(row.get("email")),
            website=_none(row.get("website")),
            demo=demo or DEMO in flags[row["id"]],
        )
    session.flush()

    def org_id(hsds_id: str) -> int | None:
        if not hsds_id:
            return None
        if hsds_id in orgs:
            return orgs[hsds_id].id
        return session.scalar(
            select(DirectoryOrganization.id).where(DirectoryOrganization.hsds_id == hsds_id)
        )

    addresses = {a["location_id"]: a for a in tables.get("address", [])}
    locations: dict[str, DirectoryLocation] = {}
    known_locations = _existing(session, DirectoryLocation, tables.get("location", []))
    for row in tables.get("location", []):
        address = addresses.get(row["id"], {})
        locations[row["id"]] = _upsert(
            session,
            DirectoryLocation,
            known_locations,
            row["id"],
            organization_id=org_id(row.get("organization_id", "")),
            name=_none(row.get("name")),
            description=_none(row.get("description")),
            transportation=_none(row.get("transportation")),
            latitude=_none(row.get("latitude")),
            longitude=_none(row.get("longitude")),
            address_hsds_id=_none(address.get("id")),
            address_1=_none(address.get("address_1")),
            city=_none(address.get("city")),
            region=_none(address.get("region")),
            state_province=_none(address.get("state_province")),
            postal_code=_none(address.get("postal_code")),
            country=_none(address.get("country", "").upper()),
        )
    session.flush()

    services: dict[str, DirectoryService] = {}
    known_services = _existing(session, DirectoryService, tables.get("service", []))
    for row in tables.get("service", []):
        previous = known_services.get(row["id"])
        needs = sorted(flags[row["id"]] - {DEMO}, key=NEEDS.index)
        services[row["id"]] = _upsert(
            session,
            DirectoryService,
            known_services,
            row["id"],
            organization_id=org_id(row["organization_id"]),
            name=row["name"],
            alternate_name=_none(row.get("alternate_name")),
            description=_none(row.get("description")),
            url=_none(row.get("url")),
            email=_none(row.get("email")),
            status=row.get("status") or "active",
            needs=needs if has_attributes or previous is None else previous.needs,
            eligibility_description=_none(row.get("eligibility_description")),
            minimum_age=int(row["minimum_age"]) if row.get("minimum_age") else None,
            maximum_age=int(row["maximum_age"]) if row.get("maximum_age") else None,
            application_process=_none(row.get("application_process")),
            fees_description=_none(row.get("fees_description")),
            interpretation_services=_none(row.get("interpretation_services")),
            assured_date=_none(row.get("assured_date")),
            assurer_email=_none(row.get("assurer_email")),
            demo=demo or DEMO in flags[row["id"]],
        )
    session.flush()

    def service_of(hsds_id: str) -> DirectoryService | None:
        return services.get(hsds_id) or session.scalar(
            select(DirectoryService).where(DirectoryService.hsds_id == hsds_id)
        )

    def location_id(hsds_id: str) -> int:
        if hsds_id in locations:
            return locations[hsds_id].id
        found = session.scalar(
            select(DirectoryLocation.id).where(DirectoryLocation.hsds_id == hsds_id)
        )
        assert found is not None  # validate() checked it
        return found

    # For each service in the file, its details are exactly those of the file.
    kept: dict[str, set[str]] = defaultdict(set)
    details: list[tuple[str, type[Any], str, dict[str, Any]]] = []
    for row in tables.get("service_at_location", []):
        values = {
            "location_id": location_id(row["location_id"]),
            "description": _none(row.get("description")),
        }
        details.append(
            ("at_locations", DirectoryServiceAtLocation, row["service_id"], row | values)
        )
    for row in tables.get("language", []):
        values = {
            "code": row["code"].lower(),
            "name": _none(row.get("name")),
            "note": _none(row.get("note")),
        }
        details.append(("languages", DirectoryLanguage, row.get("service_id", ""), row | values))
    for row in tables.get("phone", []):
        values = {
            "number": row["number"],
            "extension": _none(row.get("extension")),
            "type": _none(row.get("type")),
            "description": _none(row.get("description")),
        }
        details.append(("phones", DirectoryPhone, row.get("service_id", ""), row | values))
    for row in tables.get("schedule", []):
        values = {
            name: _none(row.get(name))
            for name in (
                "freq",
                "byday",
                "opens_at",
                "closes_at",
                "timezone",
                "valid_from",
                "valid_to",
                "description",
            )
        }
        details.append(("schedules", DirectorySchedule, row.get("service_id", ""), row | values))
    known_details = {
        model: _existing(session, model, [row for _r, m, _s, row in details if m is model])
        for model in {m for _r, m, _s, _row in details}
    }
    for relation, model, service_hsds_id, row in details:
        service = service_of(service_hsds_id) if service_hsds_id else None
        if service is None:
            continue
        columns = {c.key for c in model.__table__.columns} - {"id", "hsds_id", "service_id"}
        values = {k: v for k, v in row.items() if k in columns}
        existing = known_details[model].get(row["id"])
        if existing is None:
            getattr(service, relation).append(model(hsds_id=row["id"], **values))
        else:
            existing.service_id = service.id
            for key, value in values.items():
                setattr(existing, key, value)
        kept[relation].add(row["id"])
    for service in services.values():
        for relation in ("at_locations", "languages", "phones", "schedules"):
            for item in list(getattr(service, relation)):
                if item.hsds_id not in kept[relation]:
                    getattr(service, relation).remove(item)
    session.flush()
    for table in ("organization", "service", "location", "language", "phone", "schedule"):
        summary.counts[table] = len(tables.get(table, []))
    summary.counts["service_at_location"] = len(tables.get("service_at_location", []))
    return summary


# ---------------------------------------------------------------- paths


def read(path: Path) -> Tables:
    if path.is_dir():
        return read_csv(path)
    if path.suffix.lower() == ".json" and path.is_file():
        return read_json(path)
    raise DirectoryImportError([f"{path}: give a folder of HSDS CSV files or an HSDS .json file"])


def write(tables: Tables, path: Path) -> None:
    if path.suffix.lower() == ".json":
        write_json(tables, path)
    else:
        write_csv(tables, path)


def import_path(session: Session, path: Path, *, demo: bool = False) -> ImportSummary:
    return import_tables(session, read(path), demo=demo)


def export_path(session: Session, path: Path) -> Tables:
    tables = export_tables(session)
    write(tables, path)
    return tables
