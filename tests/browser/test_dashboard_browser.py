"""The dashboard in a real browser (Debian's Chromium, headless) against the whole helpline.

A caseworker logs in, sees a person's request arrive live, claims it, replies (the
reply reaches the simulator), sees the person's next message arrive live, and closes
the case. Screenshots of the queue and of an Arabic case page go to var/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.demo import DEMO_PASSWORD
from tests.helpers.stack import ROOT, Person, Stack, english, running

pytestmark = [pytest.mark.rasa, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
# Generous: on a loaded two-core machine the worker and Rasa can take a while.
LIVE_TIMEOUT_MS = 60_000
# Assertions wait as long as actions do (their own default is five seconds).
expect.set_options(timeout=LIVE_TIMEOUT_MS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running(tmp_path_factory.mktemp("stack")) as started:
        started.cli("demo", "seed")
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def logged_in(browser: Browser, stack: Stack, username: str, width: int = 1280) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(LIVE_TIMEOUT_MS)
    page.goto(f"{stack.base}/dashboard/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    # Live updates flow before anything happens that the page must hear of.
    page.wait_for_selector("body[data-live='open']")
    return page


def test_a_caseworker_runs_a_whole_case_in_the_browser(stack: Stack, browser: Browser) -> None:
    page = logged_in(browser, stack, "demo-caseworker")
    expect(page.locator("#queue-rows tr[data-case-id]")).to_have_count(0)

    person = Person(stack.base)
    person.say("i want to talk to a person")
    person.replies_until(english("utter_ask_share_with_caseworker"))
    person.say("yes")
    person.replies_until(english("utter_handoff"))

    row = page.locator("#queue-rows tr[data-case-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("waiting")
    expect(page.locator("#queue-counts")).to_have_text("1 waiting · 0 claimed · 0 yours")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    row.get_by_role("link").click()
    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#case-status")).to_have_text("claimed")
    page.get_by_role("button", name="Introduce yourself").click()
    expect(page.get_by_label("Reply to the person on web")).to_have_value(
        "Hello, I am a caseworker. I have read your messages and I am here to help you."
    )
    page.get_by_label("Reply to the person on web").fill("Hello, I am Amal. I can help.")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_selector("body[data-page='case'][data-live='open']")

    replies = person.replies_until("Hello, I am Amal. I can help.")
    assert replies[-1]["author"] == "caseworker"

    person.say("thank you, my boss keeps my passport")
    expect(page.locator("#transcript")).to_contain_text("my boss keeps my passport")

    page.get_by_label("Outcome").select_option("information_given")
    page.get_by_role("button", name="Close the case").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.locator("#queue-rows tr[data-case-id]")).to_have_count(0)
    person.replies_until(english("utter_case_closed"))
    assert person.mode() == "bot"
    page.close()


def test_an_arabic_case_reads_right_to_left(stack: Stack, browser: Browser) -> None:
    person = Person(stack.base)
    person.say("بدي احكي مع شخص حقيقي", language="ar")
    person.replies(1)  # may I share what you wrote?
    person.say("نعم")
    deadline = time.monotonic() + 60
    while person.mode() != "human":
        assert time.monotonic() < deadline, "the Arabic request for a person opened no case"
        time.sleep(0.25)
    person.say("صاحب العمل أخذ جواز سفري ولا يعطيني راتبي")

    page = logged_in(browser, stack, "demo-caseworker", width=1024)
    # The Arabic case, whatever else the queue holds.
    page.locator("#queue-rows tr[data-case-id]", has_text="العربية").get_by_role("link").click()
    page.get_by_role("button", name="Claim").click()
    message = page.locator("#transcript .message.in p.text").last
    expect(message.locator("mark.evidence")).to_be_visible()
    assert message.get_attribute("lang") == "ar"
    assert message.evaluate("element => getComputedStyle(element).direction") == "rtl"
    expect(page.locator(".canned-reply[lang='ar']").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "case-arabic.png"), full_page=True)
    page.close()
