"""The usage page and the month-to-date summary it is built on."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import Account
from billing.models import UsageRecord
from billing.selectors import usage_summary
from billing.services import usage_record_for
from inference.models import Prediction

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def bill(persona, version, seconds, at: datetime) -> UsageRecord:
    prediction = Prediction.objects.create(
        account=persona.account, model=version.model, version=version, status="succeeded"
    )
    record = usage_record_for(prediction=prediction, predict_time=seconds)
    UsageRecord.objects.filter(pk=record.pk).update(created_at=at)
    return record


def test_the_summary_totals_the_month_per_model_and_per_day(alice, bob, echo_version):
    bill(alice, echo_version, 10, datetime(2026, 3, 1, 0, 0, 5, tzinfo=UTC))
    bill(alice, echo_version, 20, datetime(2026, 3, 3, 23, 59, tzinfo=UTC))
    bill(alice, echo_version, 99, datetime(2026, 2, 28, 23, 59, tzinfo=UTC))  # last month
    bill(bob, echo_version, 50, datetime(2026, 3, 2, tzinfo=UTC))  # someone else
    summary = usage_summary(account=alice.account, now=NOW)
    assert summary["month_start"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert summary["month_to_date_spend"] == Decimal("0.003000") and summary["currency"] == "USD"
    assert summary["by_model"] == [
        {"model": "alice/echo", "predictions": 2, "seconds": Decimal("30.000"), "amount": Decimal("0.003000")}
    ]
    assert [(str(d["date"]), d["predictions"], d["amount"]) for d in summary["by_day"]] == [
        ("2026-03-01", 1, Decimal("0.001000")),
        ("2026-03-02", 0, Decimal(0)),
        ("2026-03-03", 1, Decimal("0.002000")),
        ("2026-03-04", 0, Decimal(0)),
    ]
    assert (summary["spending_limit"], summary["credit"]) == (None, None)


@pytest.fixture
def browser(client, alice):
    client.login(username="alice", password="correct horse 9")
    return client


def test_the_page_shows_spend_against_the_limit_and_chart_data(browser, alice, echo_version):
    bill(alice, echo_version, 30, datetime.now(UTC))
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.01"))
    page = browser.get("/account/usage").content.decode()
    assert re.search(r'data-testid="month-to-date">\$0\.0030', page)
    assert 'data-testid="spending-limit">$0.01<' in page and 'aria-valuenow="30"' in page
    chart = json.loads(re.search(r'id="usage-chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert chart["models"] == [{"model": "alice/echo", "seconds": 30.0, "amount": 0.003}]
    assert len(chart["days"]) == datetime.now(UTC).day and chart["days"][-1]["amount"] == 0.003


def test_the_owner_sets_and_removes_the_limit(browser, alice):
    assert browser.post("/account/usage", {"spending_limit": "12.50"}).status_code == 302
    assert Account.objects.get(pk=alice.account.pk).spending_limit == Decimal("12.50")
    browser.post("/account/usage", {"spending_limit": ""})
    assert Account.objects.get(pk=alice.account.pk).spending_limit is None


@pytest.mark.parametrize("value", ["-1", "lots", "1.234"])
def test_a_bad_limit_is_refused_next_to_the_field(browser, alice, value):
    response = browser.post("/account/usage", {"spending_limit": value})
    assert response.status_code == 422 and 'id="id_spending_limit_error"' in response.content.decode()
    assert Account.objects.get(pk=alice.account.pk).spending_limit is None


def test_a_member_who_is_not_owner_cannot_change_the_limit(client, alice, bob):
    from accounts.models import Membership

    org = Account.objects.create(username="acme", kind=Account.Kind.ORGANIZATION)
    Membership.objects.create(account=org, user=bob.token.created_by, role=Membership.Role.MEMBER)
    client.login(username="bob", password="correct horse 9")
    # bob acts for his personal account, which he owns; the organization's limit is untouched
    client.post("/account/usage", {"spending_limit": "5"})
    org.refresh_from_db()
    assert org.spending_limit is None and Account.objects.get(pk=bob.account.pk).spending_limit == Decimal("5")
