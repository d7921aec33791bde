"""Headless Chromium (Debian's `chromium`, driven by Playwright) against the real platform
of tests/live_platform.py: Daphne, a Celery worker, Redis and PostgreSQL.

`playwright install` would download a browser build, so the system's chromium is launched
instead. Each failing test leaves a screenshot in BROWSER_SCREENSHOT_DIR (default
var/browser-screenshots); BROWSER_SCREENSHOTS=always keeps one of every test.
"""

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.live_platform import Platform

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT_DIR = Path(
    os.environ.get("BROWSER_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "browser-screenshots")
)
PASSWORD = "correct horse 9"  # tests.conftest.make_persona's
PAINTER_README = """# Painter

Paints a **square** of one colour.

| input | meaning |
|-------|---------|
| color | red, green or blue |

<script>document.title = "hacked"</script>
"""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# Package scope: Playwright's sync API keeps an event loop running in the main thread, where
# Django refuses database calls, so it must be gone before the next directory's tests run.
@pytest.fixture(scope="package")
def browser(platform: Platform) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for the browser tests: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def in_thread(function):
    """Run database code beside Playwright: its sync API keeps an event loop running in this
    thread, where Django refuses synchronous database calls."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


@pytest.fixture(scope="session")
def painter_readme(platform, django_db_blocker) -> str:
    from django.db import connection

    from inference.models import Model

    def update() -> None:
        try:
            Model.objects.filter(owner__username="alice", name="painter").update(
                readme=PAINTER_README, description="Paints a square of one colour."
            )
        finally:
            connection.close()

    with django_db_blocker.unblock():
        in_thread(update)
    return PAINTER_README


def _new_context(browser: Browser, platform: Platform, storage_state: dict | None = None) -> BrowserContext:
    context = browser.new_context(
        base_url=platform.url, viewport={"width": 1280, "height": 900}, storage_state=storage_state
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture(scope="package")
def alice_session(browser: Browser, platform: Platform) -> dict:
    """alice's logged-in cookies, made once through the login form and reused by alice_page."""
    context = _new_context(browser, platform)
    log_in(context.new_page())
    state = context.storage_state()
    context.close()
    return state


def _screenshot_if_failed(request, page: Page) -> None:
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed or os.environ.get("BROWSER_SCREENSHOTS") == "always":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / (re.sub(r"[^\w.-]+", "_", request.node.name) + ".png")
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


@pytest.fixture
def page(request, browser: Browser, platform: Platform) -> Iterator[Page]:
    """A fresh, signed-out browser tab; a screenshot is saved if the test fails."""
    context = _new_context(browser, platform)
    page = context.new_page()
    yield page
    _screenshot_if_failed(request, page)
    context.close()


@pytest.fixture
def alice_page(request, browser: Browser, platform: Platform, alice_session: dict) -> Iterator[Page]:
    """A tab signed in as alice, on the models page; a screenshot is saved if the test fails."""
    context = _new_context(browser, platform, storage_state=alice_session)
    page = context.new_page()
    page.goto("/models")
    yield page
    _screenshot_if_failed(request, page)
    context.close()


def log_in(page: Page, username: str = "alice", password: str = PASSWORD) -> Page:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/models")
    return page
