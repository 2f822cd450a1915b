from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot import demo_directory, demo_history, report
from bot.db import Database
from bot.models import Case, Contact, Referral, utcnow


def test_history_fills_the_figures_once_and_sends_nothing(db: Database) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        first = demo_history.seed(session)
        second = demo_history.seed(session)
        today = utcnow().date()
        figures = report.build(session, today - timedelta(weeks=demo_history.WEEKS), today)
        open_cases = session.scalar(
            select(func.count()).select_from(Case).where(Case.status != "closed")
        )
        reachable = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.unreachable.is_(False))
        )
        referred = session.scalar(select(func.count()).select_from(Referral))

    assert first.startswith(f"demo case history: {demo_history.CASES} closed cases")
    assert second == "demo case history: already there"
    assert (figures.total_cases, open_cases, reachable) == (demo_history.CASES, 0, 0)
    assert referred > 0
    assert sum(v or 0 for _, v in figures.language.rows) > 0
