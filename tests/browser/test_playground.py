"""The playground in a real browser: the form from the schema, validation errors next to the
field, output streaming in over the websocket, images inline, cancel."""

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def auth(platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.alice.plaintext}"}


def output_panel(page: Page):
    return page.locator(".output-panel")


def test_tokens_appear_before_the_prediction_completes(alice_page: Page, platform):
    page = alice_page
    page.goto("/alice/tokens")
    page.get_by_label("Text").fill("one two three four five six seven eight")
    page.get_by_label("Delay").fill("0.3")
    page.get_by_role("button", name="Run").click()

    panel = output_panel(page)
    # Seen in the page itself as it happens: part of the text while the status is not final.
    page.wait_for_function(
        """() => {
            const text = document.querySelector('.output-panel [data-output]').textContent;
            const status = document.querySelector('.output-panel [data-status]').textContent;
            return text.startsWith('one two') && !text.includes('eight') && status === 'Running';
        }""",
        timeout=20_000,
    )
    expect(panel.locator("[data-status]")).to_have_text("Succeeded", timeout=20_000)
    expect(panel.locator("[data-output]")).to_have_text("one two three four five six seven eight")
    expect(panel.locator("[data-metrics]")).to_contain_text("Run time")
    expect(panel.get_by_role("button", name="Cancel")).to_be_hidden()

    # The run is a web prediction of alice's, with its own page.
    prediction_id = panel.locator("[data-link]").text_content()
    prediction = httpx.get(f"{platform.url}/v1/predictions/{prediction_id}", headers=auth(platform)).json()
    assert prediction["source"] == "web"
    assert prediction["input"] == {"text": "one two three four five six seven eight", "delay": 0.3}


def test_a_bad_field_shows_the_servers_error_next_to_it(alice_page: Page, platform):
    page = alice_page
    page.goto("/alice/tokens")
    before = {p.id for p in platform.client().predictions.list().results}
    page.get_by_label("Delay").fill("9")
    page.get_by_role("button", name="Run").click()

    error = page.locator("#error-delay")
    expect(error).to_have_text("delay must be less than or equal to 5")
    expect(page.get_by_label("Delay")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-text")).to_be_hidden()
    expect(output_panel(page).locator("[data-prediction-view]")).to_be_hidden()
    assert {p.id for p in platform.client().predictions.list().results} == before

    page.get_by_label("Delay").fill("0")  # fixed, it runs and the error goes away
    page.get_by_role("button", name="Run").click()
    expect(output_panel(page).locator("[data-status]")).to_have_text("Succeeded", timeout=20_000)
    expect(error).to_be_hidden()


def test_an_image_output_is_shown_inline(alice_page: Page, platform):
    page = alice_page
    page.goto("/alice/painter")
    page.get_by_label("Color").select_option("red")
    page.get_by_label("Size").fill("24")
    page.get_by_role("button", name="Run").click()

    panel = output_panel(page)
    expect(panel.locator("[data-status]")).to_have_text("Succeeded", timeout=30_000)
    image = panel.locator("[data-output] img")
    expect(image).to_be_visible()
    assert image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 24, 24]
    expect(panel.locator("[data-logs]")).to_contain_text("painting a 24x24 red square")


def test_cancel_a_running_prediction(alice_page: Page, platform):
    page = alice_page
    page.goto("/alice/sleeper")
    page.get_by_label("Seconds").fill("60")
    page.get_by_role("button", name="Run").click()

    panel = output_panel(page)
    expect(panel.locator("[data-logs]")).to_contain_text("sleeping", timeout=30_000)  # it is running
    expect(panel.locator("[data-status]")).to_have_text("Running")
    panel.get_by_role("button", name="Cancel").click()
    expect(panel.locator("[data-status]")).to_have_text("Canceled", timeout=15_000)
    expect(panel.get_by_role("button", name="Cancel")).to_be_hidden()
    prediction_id = panel.locator("[data-link]").text_content()
    assert platform.client().predictions.get(prediction_id).status == "canceled"
