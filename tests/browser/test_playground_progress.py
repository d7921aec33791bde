"""What the playground says while a prediction is on its way: Queued (no worker has it yet),
Booting (a worker has it and is starting its model), Running, then the final state, each with
the seconds it has lasted; and after Run the output panel comes into view, on a narrow screen
below a long form too."""

import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOT_DIR, in_thread
from tests.conftest import FIXTURE_MODELS

pytestmark = pytest.mark.browser

# Notes every phase the status badge shows, and the text beside it, as they change.
RECORD_PHASES = """() => {
    const badge = document.querySelector('.output-panel [data-status]');
    const elapsed = document.querySelector('.output-panel [data-elapsed]');
    window.__phases = [];
    window.__elapsed = [];
    const note = () => {
        const phase = badge.dataset.phase;
        if (phase && window.__phases[window.__phases.length - 1] !== phase) window.__phases.push(phase);
        const text = `${badge.textContent}: ${elapsed.textContent}`;
        if (window.__elapsed[window.__elapsed.length - 1] !== text) window.__elapsed.push(text);
    };
    const observer = new MutationObserver(note);
    for (const node of [badge, elapsed]) {
        observer.observe(node, { attributes: true, childList: true, characterData: true, subtree: true });
    }
}"""


@pytest.fixture
def slow_boot(platform, django_db_blocker, tmp_path) -> str:
    """alice/slow-boot (3 s of setup, thirteen inputs) as a version no worker has run yet, so
    its first prediction boots a runner."""
    from django.db import connection

    from tests.live_platform import _push

    package = tmp_path / "slow-boot"
    shutil.copytree(FIXTURE_MODELS / "slow-boot", package)
    with (package / "predict.py").open("a") as source:
        source.write(f"# {uuid.uuid4()}: a version of its own\n")

    def push() -> str:
        try:
            return _push(package, "alice/slow-boot")
        finally:
            connection.close()

    with django_db_blocker.unblock():
        return in_thread(push)


def keep_the_worker_busy(platform, seconds: float) -> None:
    """A prediction the (one) worker is running, so the next one waits in the queue."""
    client = platform.client()
    busy = client.models.predictions.create("alice/sleeper", input={"seconds": seconds})
    deadline = time.monotonic() + 30
    while client.predictions.get(busy.id).status == "starting":
        assert time.monotonic() < deadline, "the worker did not take the sleeper"
        time.sleep(0.1)


def test_a_cold_run_shows_queued_booting_running_then_succeeded(alice_page: Page, platform, slow_boot):
    page = alice_page
    page.goto("/alice/slow-boot")
    page.locator("#input-prompt").fill("a harbour")
    page.evaluate(RECORD_PHASES)
    keep_the_worker_busy(platform, seconds=4)
    page.get_by_role("button", name="Run").click()

    panel = page.locator(".output-panel")
    status, elapsed = panel.locator("[data-status]"), panel.locator("[data-elapsed]")
    expect(status).to_have_text("Queued")
    expect(elapsed).to_have_text("waiting for a worker · 1 s", timeout=10_000)  # it counts the seconds
    expect(status).to_have_text("Booting", timeout=20_000)
    expect(elapsed).to_have_text("starting the model (cold boot) · 1 s", timeout=10_000)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "playground_booting.png"))
    expect(status).to_have_text("Running", timeout=20_000)
    expect(status).to_have_text("Succeeded", timeout=20_000)
    expect(elapsed).to_have_text(_seconds("in "))
    expect(panel.locator("[data-output]")).to_have_text("a harbour (plain), by Hearth")
    expect(panel.locator("[data-metrics]")).to_contain_text("Setup (cold boot)")

    assert page.evaluate("window.__phases") == ["queued", "booting", "running", "succeeded"]
    seen = page.evaluate("window.__elapsed")
    for shown in ("Queued: waiting for a worker · 2 s", "Booting: starting the model (cold boot) · 2 s"):
        assert shown in seen, seen

    # Its page, opened once it is over, says the same final state.
    page.goto(panel.locator("[data-link]").get_attribute("href"))
    expect(page.locator("[data-status]")).to_have_text("Succeeded")
    expect(page.locator("[data-elapsed]")).to_have_text(_seconds("in "))


def test_a_warm_run_goes_straight_to_running(alice_page: Page, platform):
    platform.client().run("alice/echo", input={"text": "warm"})  # its runner is up
    page = alice_page
    page.goto("/alice/echo")
    page.evaluate(RECORD_PHASES)
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".output-panel [data-status]")).to_have_text("Succeeded", timeout=20_000)
    assert "booting" not in page.evaluate("window.__phases")


def _seconds(prefix: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(prefix)}\d+\.\d s$")


def in_viewport(page: Page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
            const rect = document.querySelector(selector).getBoundingClientRect();
            return rect.top >= 0 && rect.bottom <= window.innerHeight && rect.left >= 0
                && rect.right <= window.innerWidth;
        }""",
        selector,
    )


def test_on_a_narrow_screen_run_brings_the_output_into_view(alice_page: Page, platform, slow_boot):
    page = alice_page
    page.set_viewport_size({"width": 390, "height": 700})
    page.goto("/alice/slow-boot")
    run = page.get_by_role("button", name="Run")
    run.evaluate("button => button.scrollIntoView({ block: 'end' })")  # scrolled down to Run
    # The form is longer than the screen: at its Run button, the output is out of sight.
    assert not in_viewport(page, ".output-panel h3")
    assert page.evaluate("document.querySelector('.output-panel').getBoundingClientRect().top") > 700

    run.click()
    # It scrolls (smoothly) until the panel's heading and status line are on the screen.
    page.wait_for_function(
        """() => ['.output-panel h3', '.output-panel [data-status]'].every((selector) => {
            const rect = document.querySelector(selector).getBoundingClientRect();
            return rect.top >= 0 && rect.bottom <= window.innerHeight;
        })"""
    )
    assert in_viewport(page, ".output-panel [data-elapsed]")
    assert page.evaluate("document.activeElement === document.querySelector('.output-panel')")
    expect(page.locator(".output-panel [data-status]")).to_be_visible()

    expect(page.locator(".output-panel [data-status]")).to_have_text("Succeeded", timeout=30_000)
    assert in_viewport(page, ".output-panel [data-output]")  # the output shows where the user is
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "playground_narrow_output_in_view.png"))
    assert Path(SCREENSHOT_DIR / "playground_narrow_output_in_view.png").stat().st_size > 0
