"""The demo catalogue in a real browser: a zoo model catalogued as `make run` catalogues it on
demo weights (hosting/devserver.py `push_demo_model`) shows its cover, its README, its default
example, run by the real worker, and the demo-weights banner, without breaking the pages' CSP."""

import time
from io import StringIO

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import in_thread
from tests.browser.test_content_security_policy import RECORD_VIOLATIONS, WatchedPage
from tests.conftest import ZOO

pytestmark = pytest.mark.browser

MODEL = "alice/captions"


@pytest.fixture(scope="module")
def captions(platform, django_db_blocker) -> str:
    """zoo/image-captioning pushed as alice/captions and catalogued on demo weights (the platform's
    worker runs the tiny BLIP-2); returned once the worker has run its example."""
    from django.core.management import call_command
    from django.db import connection

    def push_and_catalogue() -> None:
        try:
            call_command("push", str(ZOO / "image-captioning"), MODEL, stdout=StringIO(), stderr=StringIO())
            call_command(
                "catalogue",
                str(ZOO / "image-captioning"),
                MODEL,
                "--demo-weights",
                stdout=StringIO(),
                stderr=StringIO(),
            )
        finally:
            connection.close()

    with django_db_blocker.unblock():
        in_thread(push_and_catalogue)
    client, deadline = platform.client(), time.monotonic() + 120
    while client.models.get(MODEL).default_example is None:  # the client parses it as a Prediction
        assert time.monotonic() < deadline, "the worker did not run the example"
        time.sleep(0.25)
    return MODEL


def _loaded(image) -> bool:
    return image.evaluate("(img) => img.complete && img.naturalWidth > 0")


def test_the_model_page_shows_cover_readme_example_and_demo_banner(alice_page: Page, captions):
    page = alice_page
    page.context.add_init_script(RECORD_VIOLATIONS)
    watched = WatchedPage(page)
    page.goto(f"/{captions}")

    expect(page.get_by_text("Captions an image, or answers a question about it, with BLIP-2.")).to_be_visible()
    banner = page.get_by_test_id("demo-weights-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("This model runs tiny random weights")
    expect(page.get_by_test_id("demo-weights-note")).to_be_visible()  # in the playground's output panel

    cover = page.get_by_test_id("model-cover")
    expect(cover).to_be_visible()
    assert _loaded(cover)

    readme = page.locator(".markdown")
    expect(readme.get_by_role("heading", name="Image captioning", level=3)).to_be_visible()
    expect(readme).to_contain_text("HEARTH_CAPTION_MODEL=Salesforce/blip2-opt-2.7b make run")
    expect(readme.locator("strong", has_text="Demo weights are random.")).to_be_visible()

    example = page.get_by_test_id("default-example")
    expect(example).to_be_visible()
    image = example.get_by_role("img", name="Example input image")
    expect(image).to_be_visible()
    assert _loaded(image)  # the lighthouse of zoo/image-captioning/example.png, inline
    output = example.get_by_test_id("example-output")
    expect(output).to_be_visible()
    assert output.inner_text().strip()  # the tiny model's caption: nonsense, but a caption
    expect(example).to_contain_text("Made by the demo weights")
    assert watched.violations() == []


def test_the_catalogue_shows_the_cover_and_a_demo_weights_badge(alice_page: Page, captions):
    page = alice_page
    page.get_by_label("Search models by name").fill(captions)
    page.get_by_role("button", name="Search").click()
    card = page.locator(".model-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Captions an image")
    expect(card.locator(".badge.demo")).to_have_text("demo weights")
    assert _loaded(card.locator("img.model-card-cover"))
