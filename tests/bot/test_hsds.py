from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import demo_directory, hsds
from bot.db import Database
from bot.errors import DirectoryImportError
from bot.models import DirectoryPhone, DirectoryService


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def _fresh(db: Database) -> None:
    with db.session() as session:
        for table in reversed(hsds_tables()):
            session.execute(table.delete())


def hsds_tables() -> list:
    from bot.models import Base

    return [t for t in Base.metadata.sorted_tables if t.name.startswith("directory_")]


def test_csv_round_trip_keeps_every_field(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        hsds.export_path(session, tmp_path / "first")
    _fresh(db)
    with db.session() as session:
        summary = hsds.import_path(session, tmp_path / "first")
        hsds.export_path(session, tmp_path / "second")

    assert summary.counts["service"] == len(demo_directory.SERVICES)
    assert _files(tmp_path / "second") == _files(tmp_path / "first")
    assert sorted(_files(tmp_path / "first")) == sorted(f"{name}.csv" for name in hsds.FIELDS)


def test_json_round_trip_and_csv_agree(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        hsds.export_path(session, tmp_path / "directory.json")
        hsds.export_path(session, tmp_path / "csv")
    _fresh(db)
    with db.session() as session:
        hsds.import_path(session, tmp_path / "directory.json")
        hsds.export_path(session, tmp_path / "again")

    assert _files(tmp_path / "again") == _files(tmp_path / "csv")
    services = json.loads((tmp_path / "directory.json").read_text(encoding="utf-8"))
    shelter = next(s for s in services if s["name"] == "[Demo] Cedar Safe House")
    assert shelter["organization"]["name"] == "Cedar Migrant Aid"
    assert shelter["service_at_locations"][0]["location"]["addresses"][0]["country"] == "LB"
    assert sorted(a["label"] for a in shelter["attributes"]) == ["demo", "psychosocial", "shelter"]


def test_imported_rows_carry_needs_languages_and_demo_flag(db: Database) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        service = session.scalar(
            select(DirectoryService).where(DirectoryService.name == "[Demo] GWRC Labour Desk")
        )
        assert service is not None
        assert (service.needs, [x.code for x in service.languages], service.demo) == (
            ["legal", "labour_complaint"],
            ["en", "ar", "tl", "ne"],
            True,
        )
        assert service.at_locations[0].location.city == "Dubai"
        assert service.assured_date == demo_directory.VERIFIED


def test_seeding_twice_updates_instead_of_duplicating(db: Database) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        demo_directory.seed(session)
        assert session.scalar(select(func.count()).select_from(DirectoryService)) == len(
            demo_directory.SERVICES
        )
        assert session.scalar(select(func.count()).select_from(DirectoryPhone)) == len(
            demo_directory.SERVICES
        )


def test_a_newer_file_replaces_a_services_details(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        hsds.export_path(session, tmp_path / "d")
    tables = hsds.read(tmp_path / "d")
    cedar = next(s for s in tables["service"] if s["name"] == "[Demo] Cedar Legal Clinic")
    tables["phone"] = [p for p in tables["phone"] if p["service_id"] != cedar["id"]]
    cedar["name"] = "[Demo] Cedar Legal Clinic (Hamra)"
    with db.session() as session:
        hsds.import_tables(session, tables)
        service = session.scalar(
            select(DirectoryService).where(DirectoryService.hsds_id == cedar["id"])
        )
        assert service is not None
        assert (service.name, service.phones) == ("[Demo] Cedar Legal Clinic (Hamra)", [])


def test_external_taxonomy_terms_map_to_needs(db: Database) -> None:
    tables: hsds.Tables = {
        "organization": [{"id": "o1", "name": "Legal Aid Org"}],
        "service": [{"id": "s1", "organization_id": "o1", "name": "Advice Line"}],
        "taxonomy_term": [{"id": "t1", "code": "", "name": "Legal Services"}],
        "attribute": [{"id": "a1", "link_id": "s1", "taxonomy_term_id": "t1"}],
    }
    with db.session() as session:
        hsds.import_tables(session, tables)
        service = session.scalar(select(DirectoryService).where(DirectoryService.hsds_id == "s1"))
        assert service is not None
        assert (service.needs, service.demo) == (["legal"], False)


@pytest.mark.parametrize(
    ("table", "row", "problem"),
    [
        (
            "service",
            {"id": "s2", "organization_id": "nowhere", "name": "X"},
            "service.csv row 3: organization_id 'nowhere' names no row of the directory",
        ),
        (
            "service",
            {"id": "s2", "organization_id": "o1", "name": ""},
            "service.csv row 3: name is required",
        ),
        (
            "service",
            {"id": "s2", "organization_id": "o1", "name": "X", "assured_date": "1/2/2026"},
            "service.csv row 3: assured_date '1/2/2026' is not in the expected format (YYYY-MM-DD)",
        ),
        (
            "service",
            {"id": "s2", "organization_id": "o1", "name": "X", "status": "open"},
            "service.csv row 3: status 'open' is not one of active, inactive, defunct, "
            "temporarily closed",
        ),
        (
            "address",
            {"id": "ad", "location_id": "l1", "country": "Lebanon"},
            "address.csv row 2: country 'Lebanon' is not an ISO 3166 alpha-2 code",
        ),
    ],
    ids=["unknown-organisation", "no-name", "bad-date", "bad-status", "bad-country"],
)
def test_bad_rows_are_named_and_nothing_is_written(
    db: Database, table: str, row: dict[str, str], problem: str
) -> None:
    tables: hsds.Tables = {
        "organization": [{"id": "o1", "name": "Org"}],
        "service": [{"id": "s1", "organization_id": "o1", "name": "Fine"}],
        "location": [{"id": "l1", "name": "Here"}],
    }
    tables.setdefault(table, []).append(row)
    with pytest.raises(DirectoryImportError) as raised, db.session() as session:
        hsds.import_tables(session, tables)
    assert raised.value.problems == [problem]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(DirectoryService)) == 0


def test_a_folder_without_hsds_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DirectoryImportError) as raised:
        hsds.read(tmp_path)
    assert "organization.csv and service.csv" in str(raised.value)
