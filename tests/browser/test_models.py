"""The model catalogue and a model page in a real browser."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_find_a_model_and_open_its_page(alice_page: Page, platform, painter_readme):
    page = alice_page
    page.get_by_label("Search models by name").fill("paint")
    page.get_by_role("button", name="Search").click()
    cards = page.locator(".model-card")
    expect(cards).to_have_count(1)
    cards.get_by_role("link").click()

    expect(page).to_have_url(f"{platform.url}/alice/painter")
    expect(page.get_by_role("heading", level=1)).to_have_text("alice/painter")
    expect(page.get_by_text("Paints a square of one colour.").first).to_be_visible()
    readme = page.locator(".markdown")
    expect(readme.get_by_role("heading", name="Painter", level=3)).to_be_visible()
    expect(readme.locator("strong")).to_have_text("square")
    expect(readme.locator("table")).to_be_visible()
    assert page.title() != "hacked" and readme.locator("script").count() == 0

    expect(page.locator("#versions")).to_contain_text(platform.versions["painter"])
    expect(page.locator("#example-env")).to_contain_text(f"export REPLICATE_BASE_URL={platform.url}")
    expect(page.locator("#example-python")).to_contain_text('replicate.run(\n    "alice/painter"')
    expect(page.locator("#example-curl")).to_contain_text(f"{platform.url}/v1/models/alice/painter/predictions")
    inputs = page.get_by_test_id("schema-inputs")
    expect(inputs.get_by_role("row", name="color")).to_contain_text("one of red, green, blue")
    expect(inputs.get_by_role("row", name="size")).to_contain_text("≥ 1; ≤ 64")
    expect(page.get_by_test_id("output-type")).to_have_text("file")

    # The playground form: a select for choices, a number with its range, defaults filled in.
    expect(page.get_by_label("Color")).to_have_value("blue")
    size = page.get_by_label("Size")
    expect(size).to_have_value("16")
    expect(size).to_have_attribute("min", "1")
    expect(size).to_have_attribute("max", "64")
    expect(page.locator("#help-size")).to_have_text("Width and height in pixels")


def test_another_tenants_private_model_is_not_found(page: Page, platform):
    from tests.browser.conftest import log_in

    log_in(page, "bob")
    page.goto("/models")
    expect(page.locator(".model-card").first).to_be_visible()  # alice/public-echo
    expect(page.locator("main")).not_to_contain_text("alice/painter")
    response = page.goto("/alice/painter")
    assert response.status == 404
