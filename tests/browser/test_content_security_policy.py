"""The Content-Security-Policy in a real browser: clicking through the dashboard (logging in,
models, the playground running predictions with text and image outputs over the websocket,
predictions, usage, tokens) and /v1/docs breaks no rule of it."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import _new_context, _screenshot_if_failed, log_in

pytestmark = pytest.mark.browser

# Chromium reports each blocked load or inline script both as a console error and as a
# `securitypolicyviolation` event; the event is recorded by a script the page cannot block.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


class WatchedPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        self.events: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def violations(self) -> list[str]:
        try:
            self.events += self.page.evaluate("() => window.__cspViolations.splice(0)")
        except Exception:  # a page mid-navigation; the console listener still saw its violations
            pass
        return self.console + self.events


@pytest.fixture
def watched(request, browser: Browser, platform) -> Iterator[WatchedPage]:
    context = _new_context(browser, platform)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    yield WatchedPage(page)
    _screenshot_if_failed(request, page)
    context.close()


def visit(watched: WatchedPage, path: str) -> Page:
    assert watched.violations() == []  # the page being left broke nothing
    response = watched.page.goto(path)
    assert response is not None and "content-security-policy" in response.headers, path
    return watched.page


def test_a_violation_is_caught(watched: WatchedPage):
    page = visit(watched, "/login")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "document.title = 'inline ran'";
        document.body.append(script);
    }""")
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.title() != "inline ran"
    assert any("script-src" in violation for violation in watched.violations())


def test_clicking_through_the_dashboard_breaks_no_rule_of_the_policy(watched: WatchedPage, platform):
    page = visit(watched, "/login")
    log_in(page)
    assert watched.violations() == []

    page = visit(watched, "/models")
    expect(page.locator(".model-card").first).to_be_visible()

    page = visit(watched, "/alice/tokens")  # text streamed token by token over the websocket
    page.get_by_label("Text").fill("one two three")
    page.get_by_label("Delay").fill("0.1")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".output-panel [data-status]")).to_have_text("Succeeded", timeout=20_000)

    page = visit(watched, "/alice/painter")  # an image output shown inline
    page.get_by_role("button", name="Run").click()
    panel = page.locator(".output-panel")
    expect(panel.locator("[data-status]")).to_have_text("Succeeded", timeout=30_000)
    image = panel.locator("[data-output] img")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('.output-panel [data-output] img').naturalWidth > 0")
    prediction_id = panel.locator("[data-link]").text_content()

    page = visit(watched, "/predictions")
    expect(page.get_by_test_id("prediction-table")).to_be_visible()
    page = visit(watched, f"/p/{prediction_id}")
    expect(page.locator("[data-output] img")).to_be_visible()

    page = visit(watched, "/account/usage")
    expect(page.locator('[data-chart="daily"] svg')).to_be_visible()
    page.get_by_label("Monthly spending limit").fill("25")  # shows the meter of spend against it
    page.get_by_role("button", name="Save limit").click()
    expect(page.locator(".meter rect")).to_be_attached()
    page.get_by_label("Monthly spending limit").fill("")
    page.get_by_role("button", name="Save limit").click()
    expect(page.get_by_text("No spending limit set.")).to_be_visible()

    page = visit(watched, "/account/api-tokens")
    page.get_by_label("Name").first.fill("csp check")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("csp check").first).to_be_visible()

    assert watched.violations() == []


def test_the_api_docs_run_under_their_policy(watched: WatchedPage):
    page = visit(watched, "/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Hearth HTTP API", timeout=15_000)
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert watched.violations() == []
