"""The figures report in a real browser (Debian's Chromium, headless).

The report of the demo case history, as ``helpline report`` writes it (opened from
disk) and as a supervisor sees it in the dashboard, is checked for its charts and
kept as screenshots in var/screenshots/ (report.png, report-dashboard.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from bot import auth, cases, demo_directory, demo_history, report
from bot.config import Settings
from bot.db import Database
from bot.models import utcnow
from tests.helpers import factories
from tests.helpers.app import make_app, serving

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


def test_the_report_reads_well_in_a_browser(db: Database, tmp_path: Path, browser: Browser) -> None:
    with db.session() as session:
        demo_directory.seed(session)
        demo_history.seed(session)
        today = utcnow().date()
        figures = report.build(session, today - timedelta(weeks=demo_history.WEEKS), today)
    report.write(figures, tmp_path)

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto((tmp_path / "report.html").as_uri())

    expect(page.get_by_role("heading", level=1)).to_contain_text("Helpline figures")
    images = page.locator("figure img")
    expect(images).to_have_count(len(figures.tables()) + 1)
    # Every chart decodes, at a readable size.
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    widths = images.evaluate_all("all => all.map(i => i.naturalWidth)")
    assert min(widths) >= 600
    assert page.locator(".tile .value").first.inner_text() == str(demo_history.CASES)
    page.get_by_text("Cases by language: the figures").click()
    expect(page.locator("#cases_by_language table")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    page.close()


def test_a_supervisor_reads_the_report_in_the_dashboard(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)
    app = make_app(settings, monkeypatch)
    with app.state.helpline.db.session() as session:
        demo_directory.seed(session)
        organisation = factories.organisation(session, "Cedar Migrant Aid")
        factories.user(session, organisation, "supervisor", role=cases.SUPERVISOR)
        demo_history.seed(session)

    with serving(app) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/dashboard/login")
        page.get_by_label("Username").fill("supervisor")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Report").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("Helpline figures")
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        expect(page.locator("figure img")).to_have_count(9)
        assert page.locator(".tile .value").first.inner_text() == str(demo_history.CASES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report-dashboard.png"), full_page=True)
        page.close()
