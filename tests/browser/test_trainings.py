"""Trainings in a real browser: the Train tab of a model with a `train:` entry point (a form from
its TrainingInput, a file upload), the training's page following it live to the version it
made, which links back to it, and the list of trainings."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import in_thread
from tests.conftest import FIXTURE_MODELS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def trainable(platform, django_db_blocker) -> str:
    """alice's trainable model (tests/fixtures/models/trainable) and a destination for it."""
    from django.db import connection

    from inference.models import Model
    from tests.live_platform import _push

    def make() -> None:
        try:
            _push(FIXTURE_MODELS / "trainable", "alice/trainable-web")
            model = Model.objects.get(owner__username="alice", name="trainable-web")
            Model.objects.create(owner=model.owner, name="trainable-web-tuned", hardware=model.hardware)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        in_thread(make)
    return "alice/trainable-web"


def test_the_train_tab_trains_and_the_training_page_follows_it_to_its_version(alice_page: Page, trainable, tmp_path):
    page = alice_page
    data = tmp_path / "greeting.txt"
    data.write_text("bonjour\n")
    page.goto(f"/{trainable}")
    page.get_by_test_id("train-tab").click()

    page.get_by_label("Destination").select_option("alice/trainable-web-tuned")
    page.get_by_label("Train Data").set_input_files(data)
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Seconds Per Epoch").fill("0.5")
    page.get_by_test_id("train-submit").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Training")
    expect(page.get_by_test_id("training-destination")).to_contain_text("alice/trainable-web-tuned")
    expect(page.locator("[data-logs]")).to_contain_text("epoch 1 loss 1.0000", timeout=30_000)  # live
    expect(page.locator("[data-status]")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("[data-logs]")).to_contain_text("epoch 3 loss 0.3333")

    page.reload()
    page.get_by_test_id("trained-version").click()
    expect(page).to_have_url(re.compile(r"/alice/trainable-web-tuned\?version=[0-9a-f]{64}$"))
    page.get_by_test_id("made-by-training").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Training")

    page.goto("/trainings")
    row = page.get_by_test_id("training-table").get_by_role("row").nth(1)
    expect(row).to_contain_text("alice/trainable-web-tuned")
    expect(row).to_contain_text("succeeded")


def test_the_train_form_shows_what_is_wrong_beside_each_field(alice_page: Page, trainable):
    page = alice_page
    page.goto(f"/{trainable}/train")
    page.get_by_label("Epochs").fill("0")
    page.get_by_test_id("train-submit").click()

    expect(page.locator('[data-field="train_data"] .field-error')).to_contain_text("train_data is required")
    expect(page.locator('[data-field="epochs"] .field-error')).to_contain_text("greater than or equal to 1")
