"""A model's catalogue entry on its pages (in-process): the cover the platform serves, the
demo-weights banner, and the default example's input and output. tests/browser/test_catalogue.py
drives the real thing."""

import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from inference import catalogue
from inference.files import storage
from inference.models import File, Prediction
from tests.inference.web.test_views import add_model, logged_in

COVER = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 160"><rect width="320" height="160"/></svg>'
PIXEL_PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture
def browser(client, alice):
    return logged_in(client, "alice")


def _with_cover(model):
    return catalogue.catalogue_set(
        model=model, description="Draws", readme="# Drawer", cover=("cover.svg", COVER), demo_weights=False
    )


def _example(model, *, status="succeeded", input=None, output="a caption") -> Prediction:
    example = Prediction.objects.create(
        account=model.owner,
        model=model,
        version=model.latest_version,
        input=input if input is not None else {"text": "hi"},
        status=status,
        output=output if status == "succeeded" else None,
        source="web",
    )
    model.default_example = example
    model.save()
    return example


def test_the_cover_is_served_by_the_platform_and_shown_on_the_model_page_and_catalogue(browser, alice, cpu):
    model = _with_cover(add_model(alice, cpu, "drawer", visibility="public"))
    response = browser.get("/alice/drawer/cover")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"".join(response.streaming_content) == COVER
    # An SVG opened on its own may run nothing and load nothing.
    assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    page = browser.get("/alice/drawer").content.decode()
    assert 'src="/alice/drawer/cover"' in page and 'data-testid="model-cover"' in page
    assert 'class="model-card-cover" src="/alice/drawer/cover"' in browser.get("/models").content.decode()
    assert model.cover_image.name.startswith("covers/alice-drawer-")


def test_a_public_models_cover_is_anyones_and_a_private_ones_only_its_owners(client, alice, bob, cpu):
    _with_cover(add_model(alice, cpu, "drawer", visibility="public"))
    _with_cover(add_model(alice, cpu, "secret", sha="c"))
    assert client.get("/alice/drawer/cover").status_code == 200  # signed out: the API links it
    assert client.get("/alice/secret/cover").status_code == 404
    assert logged_in(client, "bob").get("/alice/secret/cover").status_code == 404
    assert logged_in(client, "alice").get("/alice/secret/cover").status_code == 200


def test_a_model_without_a_cover_has_none_to_serve_or_show(browser, alice, cpu):
    add_model(alice, cpu, "plain")
    assert browser.get("/alice/plain/cover").status_code == 404
    assert "model-cover" not in browser.get("/alice/plain").content.decode()


def test_a_cover_that_is_no_image_or_too_large_is_refused(alice, cpu):
    model = add_model(alice, cpu, "drawer")
    with pytest.raises(catalogue.CatalogueError):
        catalogue.catalogue_set(model=model, description="", readme="", cover=("cover.html", COVER), demo_weights=False)
    big = b"0" * (catalogue.MAX_COVER_BYTES + 1)
    with pytest.raises(catalogue.CatalogueError):
        catalogue.catalogue_set(model=model, description="", readme="", cover=("cover.png", big), demo_weights=False)


def test_demo_weights_put_a_banner_on_the_page_and_the_playground_and_a_badge_in_the_catalogue(browser, alice, cpu):
    model = add_model(alice, cpu, "tiny", readme="# Tiny")
    page = browser.get("/alice/tiny").content.decode()
    assert "demo-weights-banner" not in page and "demo-weights-note" not in page
    catalogue.catalogue_set(model=model, description="", readme="# Tiny", cover=None, demo_weights=True)
    page = browser.get("/alice/tiny").content.decode()
    banner = re.search(r'<div class="demo-banner"[^>]*data-testid="demo-weights-banner">(.*?)</div>', page, re.S)
    assert banner and "tiny random weights" in banner[1] and 'href="#readme"' in banner[1]
    assert 'data-testid="demo-weights-note"' in page.split("data-output-panel", 1)[1]  # in the playground
    assert ">demo weights</span>" in browser.get("/models").content.decode()


def test_the_model_page_shows_the_default_examples_input_and_output(browser, alice, cpu):
    model = add_model(alice, cpu, "captioner")
    _example(
        model,
        input={"text": "a long " + "word " * 200, "image": PIXEL_PNG, "steps": 12, "opts": {"a": 1}},
        output="a lighthouse at dusk",
    )
    page = browser.get("/alice/captioner").content.decode()
    section = page.split('data-testid="default-example"', 1)[1].split("</section>", 1)[0]
    assert f'<img class="output-media" src="{PIXEL_PNG}" alt="Example input image">' in section
    assert "…</pre>" in section  # a long input text is cut on the page
    assert '<pre class="output-text">12</pre>' in section  # a number is text, an object JSON
    assert '<pre class="output-json code">{\n  &quot;a&quot;: 1\n}</pre>' in section
    assert '<pre class="output-text">a lighthouse at dusk</pre>' in section
    assert 'href="#example"' in page


def test_the_example_shows_its_output_files_with_fresh_links(browser, alice, cpu):
    model = add_model(alice, cpu, "painter")
    example = _example(model, output=None)
    file = storage.file_create(
        account=alice.account,
        content=io.BytesIO(b"\x89PNG fake"),
        name="out.png",
        content_type="image/png",
        kind=File.Kind.OUTPUT,
        prediction=example,
    )
    expired = storage.download_url(file, origin="http://testserver", expires_at=timezone.now() - timedelta(days=1))
    Prediction.objects.filter(pk=example.pk).update(output=[expired])
    page = browser.get("/alice/painter").content.decode()
    shown = re.search(r'<img class="output-media" src="([^"]+)" alt="Example output">', page)
    assert shown and "/download/out.png?expiry=" in shown[1] and shown[1] != expired
    assert browser.get(shown[1].replace("&amp;", "&")).status_code == 200


def test_an_example_that_has_not_run_yet_says_so_and_a_failed_one_is_not_shown(browser, alice, cpu):
    model = add_model(alice, cpu, "slow")
    example = _example(model, status="starting")
    section = browser.get("/alice/slow").content.decode().split('data-testid="default-example"', 1)[1]
    assert "its output shows here once it has run" in section and "example-output" not in section
    Prediction.objects.filter(pk=example.pk).update(status="failed")
    assert 'data-testid="default-example"' not in browser.get("/alice/slow").content.decode()


def test_another_tenants_private_models_example_is_not_shown(client, alice, bob, cpu):
    model = add_model(alice, cpu, "secret")
    _example(model)
    assert logged_in(client, "bob").get("/alice/secret").status_code == 404
