from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import cases, report
from bot.db import Database
from bot.models import Case, Referral
from tests.helpers import factories

START, END = date(2026, 10, 5), date(2026, 10, 25)  # three weeks, Monday to Sunday
NOTE = "Lives in Jounieh with her sister"


def add_case(
    session: Session,
    *,
    day: date,
    language: str = "en",
    channel: str = "sms",
    country: str = "LB",
    flags: tuple[str, ...] = (),
    waited: timedelta | None = timedelta(minutes=5),
    outcome: str | None = "information_given",
) -> Case:
    conversation = factories.conversation(
        session, channel=channel, language=language, country=country
    )
    case = factories.case(session, conversation)
    case.opened_at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    if flags:
        cases.flag(session, case, "high", [{"code": c, "evidence": "they took it"} for c in flags])
    if waited is not None:
        case.first_response_at = case.opened_at + waited
    if outcome is not None:
        case.status, case.outcome = cases.CLOSED, outcome
    return case


@pytest.fixture
def seeded(db: Database) -> Database:
    week = [START, START + timedelta(weeks=1), START + timedelta(weeks=2)]
    with db.session() as session:
        org = factories.organisation(session, "Cedar")
        worker = factories.user(session, org, "amal")
        plan = (
            # (week, language, channel, country, flags, waited, outcome) x count
            [
                (
                    0,
                    "en",
                    "sms",
                    "LB",
                    ("withholding_of_wages",),
                    timedelta(minutes=5),
                    "information_given",
                )
            ]
            * 6
            + [
                (
                    0,
                    "ar",
                    "whatsapp",
                    "AE",
                    ("withholding_of_wages", "retention_of_identity_documents"),
                    timedelta(minutes=30),
                    "referred_to_service",
                )
            ]
            * 1
            + [
                (
                    0,
                    "ar",
                    "whatsapp",
                    "AE",
                    ("retention_of_identity_documents",),
                    timedelta(minutes=30),
                    "referred_to_service",
                )
            ]
            * 2
            + [(1, "en", "sms", "LB", (), timedelta(minutes=40), "referred_to_service")] * 2
            + [
                (
                    1,
                    "ar",
                    "whatsapp",
                    "AE",
                    ("retention_of_identity_documents",),
                    timedelta(hours=2),
                    "referred_to_service",
                )
            ]
            * 2
            + [(1, "en", "sms", "LB", ("isolation",), timedelta(hours=3), "referred_to_service")]
            * 1
            + [(1, "en", "sms", "LB", (), timedelta(hours=2), "information_given")] * 1
            + [
                (
                    2,
                    "ar",
                    "whatsapp",
                    "LB",
                    ("retention_of_identity_documents",),
                    timedelta(hours=1, minutes=5),
                    None,
                )
            ]
            * 1
            + [(2, "ne", "whatsapp", "LB", (), None, None)] * 2
        )
        made = [
            add_case(
                session,
                day=week[w],
                language=lang,
                channel=ch,
                country=cc,
                flags=fl,
                waited=wt,
                outcome=oc,
            )
            for w, lang, ch, cc, fl, wt, oc in plan
        ]
        made.append(add_case(session, day=START - timedelta(days=1)))  # before the period
        cases.add_note(session, worker, made[0].id, NOTE)
        now = datetime(2026, 10, 10, tzinfo=UTC)
        for n, status in enumerate(["completed"] * 5 + ["declined"]):
            session.add(
                Referral(
                    case_id=made[n].id,
                    from_organisation_id=org.id,
                    status=status,
                    consent_method="in_chat",
                    consent_at=now,
                    created_at=now,
                    respond_by=now + timedelta(days=3),
                )
            )
    return db


@pytest.fixture
def figures(seeded: Database) -> report.Report:
    with seeded.session() as session:
        return report.build(session, START, END)


def test_cases_by_week_with_small_cells_suppressed(figures: report.Report) -> None:
    # 9, 6 and 3 cases: the 3 is suppressed, and the 6 with it, or the total (18) would give it away.
    assert figures.weekly.rows == [("2026-10-05", 9), ("2026-10-12", None), ("2026-10-19", None)]
    assert figures.total_cases == 18


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("language", [("English (en)", 10), ("Arabic (ar)", None), ("Nepali (ne)", None)]),
        ("channel", [("sms", 10), ("whatsapp", 8)]),
        ("country", [("LB", 13), ("AE", 5)]),
        (
            "indicators",
            [
                ("Withholding of wages", 7),
                ("Retention of identity documents", None),
                ("Isolation", None),
            ],
        ),
        (
            "first_response",
            [
                ("under 15 minutes", 6),
                ("15 to 60 minutes", 5),
                ("1 to 4 hours", None),
                ("4 to 24 hours", 0),
                ("over 24 hours", 0),
                ("no response recorded", None),
            ],
        ),
        (
            "outcomes",
            [("Referred to service", 8), ("Information given", None), ("Still open", None)],
        ),
        (
            "referrals",
            [
                ("Sent", 0),
                ("Accepted", 0),
                ("Declined", None),
                ("Completed", None),
                ("No contact", 0),
            ],
        ),
    ],
    ids=["language", "channel", "country", "red-flags", "first-response", "outcomes", "referrals"],
)
def test_breakdowns(
    figures: report.Report, table: str, expected: list[tuple[str, int | None]]
) -> None:
    assert getattr(figures, table).rows == expected


def test_summary_figures(figures: report.Report) -> None:
    # 16 responses: 6 x 5 min, 3 x 30, 2 x 40, 1 x 65, 3 x 120, 1 x 180: the 8th and 9th are 30.
    assert figures.median_first_response_minutes == 30.0
    # 5 completed of 6 finished, but the declined 1 is hidden (and the 5 with it): the rate
    # would give them away.
    assert figures.referral_completion is None


def test_referral_completion_when_no_count_is_hidden(seeded: Database) -> None:
    with seeded.session() as session:
        org_id = session.scalar(select(Referral.from_organisation_id))
        case_id = session.scalar(select(Referral.case_id))
        now = datetime(2026, 10, 11, tzinfo=UTC)
        for status in ["declined"] * 4 + ["completed"] * 2:
            session.add(
                Referral(
                    case_id=case_id,
                    from_organisation_id=org_id,
                    status=status,
                    consent_method="in_chat",
                    consent_at=now,
                    created_at=now,
                    respond_by=now,
                )
            )
        session.flush()
        figures = report.build(session, START, END)
    assert figures.referrals.rows[2:4] == [("Declined", 5), ("Completed", 7)]
    assert figures.referral_completion == pytest.approx(7 / 12)


def test_red_flags_by_week(figures: report.Report) -> None:
    assert figures.indicators_weekly.series == {
        "Withholding of wages": [7, 0, 0],
        "Retention of identity documents": [None, None, None],
        "Isolation": [0, None, 0],
    }


def test_small_cells_suppressed_alone_take_the_next_smallest() -> None:
    assert report.suppress({"a": 10, "b": 7, "c": 2, "d": 0}) == {
        "a": 10,
        "b": None,
        "c": None,
        "d": 0,
    }
    assert report.suppress({"a": 10, "b": 3, "c": 2}) == {"a": 10, "b": None, "c": None}
    assert report.suppress({"a": 10, "b": 0}) == {"a": 10, "b": 0}


def test_written_report_has_charts_and_csv_and_no_free_text(
    figures: report.Report, tmp_path: Path
) -> None:
    written = report.write(figures, tmp_path)

    names = sorted(p.name for p in written)
    assert [n for n in names if n.endswith(".png")] == [
        "cases_by_channel.png",
        "cases_by_country.png",
        "cases_by_language.png",
        "cases_by_week.png",
        "outcomes.png",
        "red_flags.png",
        "red_flags_by_week.png",
        "referrals.png",
        "time_to_first_response.png",
    ]
    assert "report.html" in names
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,iVBOR') == len(figures.tables()) + 1
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cases_by_week.csv").read_text(encoding="utf-8") == (
        "week starting,count\n2026-10-05,9\n2026-10-12,<5\n2026-10-19,<5\n"
    )
    everything = "\n".join(
        p.read_text(encoding="utf-8") for p in written if p.suffix in {".csv", ".html"}
    )
    assert NOTE not in everything
    assert "they took it" not in everything
    assert '<td>Arabic (ar)</td><td class="num">&lt;5</td>' in everything


def test_an_organisations_report_counts_only_its_cases(seeded: Database) -> None:
    with seeded.session() as session:
        other = factories.organisation(session, "Elsewhere")
        figures = report.build(session, START, END, organisation_id=other.id)
    assert (figures.total_cases, figures.weekly.rows) == (
        0,
        [("2026-10-05", 0), ("2026-10-12", 0), ("2026-10-19", 0)],
    )


def test_a_period_ending_before_it_starts_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="ends before it starts"), db.session() as session:
        report.build(session, END, START)
