"""Prediction history, a prediction's page and the usage page in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_history_filters_and_a_prediction_page(alice_page: Page, platform):
    page = alice_page
    prediction = platform.client().run("alice/echo", input={"text": "from the api"}, wait=True)
    assert prediction == "from the api"
    page.goto("/predictions")
    table = page.get_by_test_id("prediction-table")
    expect(table.get_by_role("row").nth(1)).to_contain_text("alice/echo")
    expect(table.get_by_role("row").nth(1)).to_contain_text("succeeded")
    expect(table.get_by_role("row").nth(1)).to_contain_text(" s")  # its duration
    expect(table.get_by_role("row").nth(1)).to_contain_text("$")  # and its cost

    page.get_by_label("Model").fill("alice/echo")
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_role("button", name="Filter").click()
    rows = table.get_by_role("row")
    expect(rows.nth(1)).to_be_visible()
    for row in rows.all()[1:]:
        expect(row).to_contain_text("alice/echo")
        expect(row).to_contain_text("succeeded")

    rows.nth(1).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Prediction")
    expect(page.locator("[data-status]")).to_have_text("Succeeded")
    expect(page.locator("[data-output]")).to_have_text("from the api")
    expect(page.locator("[data-metrics]")).to_contain_text("Cost")
    expect(page.get_by_role("heading", name="Webhook deliveries")).to_be_visible()


def test_a_running_predictions_page_follows_it_live(alice_page: Page, platform):
    page = alice_page
    prediction = platform.client().models.predictions.create(
        "alice/tokens", input={"text": "alpha beta gamma delta epsilon zeta eta theta", "delay": 0.3}
    )
    page.goto(f"/p/{prediction.id}")
    page.wait_for_function(
        """() => {
            const text = document.querySelector('[data-output]').textContent;
            return text.startsWith('alpha') && !text.includes('theta')
                && document.querySelector('[data-status]').textContent === 'Running';
        }""",
        timeout=20_000,
    )
    expect(page.locator("[data-status]")).to_have_text("Succeeded", timeout=20_000)
    expect(page.locator("[data-output]")).to_have_text("alpha beta gamma delta epsilon zeta eta theta")
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()


def test_usage_shows_spend_a_chart_and_an_editable_limit(alice_page: Page, platform):
    page = alice_page
    # A prediction long enough to cost something (a CPU second is $0.0001).
    assert platform.client().run("alice/sleeper", input={"seconds": 1.5}) == "woke up"
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_test_id("month-to-date")).to_contain_text("$")
    bars = page.locator('[data-chart="daily"] svg rect.bar')
    days_so_far = page.evaluate("new Date().getUTCDate()")
    expect(bars).to_have_count(days_so_far)
    assert float(bars.last.get_attribute("data-amount")) > 0  # today's spend is drawn
    expect(page.locator('[data-chart="models"] svg rect[data-model="alice/sleeper"]')).to_have_count(1)
    expect(page.get_by_test_id("usage-by-model")).to_contain_text("alice/sleeper")

    page.get_by_label("Monthly spending limit").fill("25")
    page.get_by_role("button", name="Save limit").click()
    expect(page.get_by_text("Spending limit saved.")).to_be_visible()
    expect(page.get_by_test_id("spending-limit")).to_have_text("$25.00")
    page.get_by_label("Monthly spending limit").fill("")
    page.get_by_role("button", name="Save limit").click()
    expect(page.get_by_text("No spending limit set.")).to_be_visible()


@pytest.fixture
def cpu_reserved_at_21_60(platform, django_db_blocker):
    """The operator offers a reserved CPU machine at $21.60 a month: 21.60 / (0.0001 x 3600 x 30)
    = a breakeven of 2 hours a day. Taken back afterwards, for the tests that follow."""
    from decimal import Decimal

    from django.db import connection

    from billing.models import Hardware
    from tests.browser.conftest import in_thread

    def reserve(price):
        def update() -> None:
            try:
                Hardware.objects.filter(sku="cpu").update(reserved_monthly_price=price)
            finally:
                connection.close()

        with django_db_blocker.unblock():
            in_thread(update)

    reserve(Decimal("21.60"))
    yield
    reserve(None)


def test_usage_weighs_per_second_billing_against_a_reserved_machine(
    alice_page: Page, platform, cpu_reserved_at_21_60, tmp_path
):
    page = alice_page
    assert platform.client().run("alice/sleeper", input={"seconds": 1.5}) == "woke up"
    page.goto("/account/usage")
    section = page.get_by_test_id("breakeven")
    expect(section.get_by_role("heading", name="Per second or reserved?")).to_be_visible()
    cpu = section.locator('article[data-sku="cpu"]')
    expect(cpu.get_by_test_id("reserved-monthly")).to_have_text("$21.60 a month")
    expect(cpu.get_by_test_id("breakeven-hours")).to_have_text("2.00 h a day")
    expect(cpu.get_by_test_id("per-second-monthly")).to_contain_text("a month at $0.0001 a second")
    # a few seconds a day are far below 2 hours: per-second billing is the cheaper side
    expect(cpu.get_by_test_id("breakeven-verdict")).to_contain_text("Per-second billing is cheaper for you")

    chart = cpu.locator('[data-chart="breakeven"] svg')
    expect(chart).to_have_attribute("aria-label", re.compile(r"breakeven 2\.00 h"))
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(30)  # the last 30 days, today last
    assert bars.last.get_attribute("data-date") == page.evaluate("new Date().toISOString().slice(0, 10)")
    assert float(bars.last.get_attribute("height")) >= 1  # today's seconds are drawn
    expect(chart.locator('line[data-line="breakeven"]')).to_have_count(1)
    expect(chart.locator('line[data-line="average"]')).to_have_count(1)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 80  # laid out, not collapsed
    cpu.screenshot(path=tmp_path / "breakeven.png")
    assert (tmp_path / "breakeven.png").stat().st_size > 0
