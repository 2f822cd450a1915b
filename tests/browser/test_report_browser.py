"""The figures report in a real browser (Debian's Chromium, headless).

The report of the demo case history is written as ``helpline report`` writes it,
opened from disk, checked for its charts and hidden small counts, and kept as a
screenshot in var/screenshots/report.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from bot import demo_directory, demo_history, report
from bot.db import Database
from bot.models import utcnow

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
