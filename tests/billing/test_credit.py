"""Prepaid credit: how it pays for usage and how it sits beside the spending limit
(the rules are in billing.services)."""

from decimal import Decimal

import pytest

from accounts.models import Account
from billing.models import CreditGrant, UsageRecord
from billing.services import credit_grant, month_to_date_spend, usage_record_for
from hosting.problems import ApiProblem
from inference import services
from inference.models import Prediction
from tests.billing.concurrent_creates import create_all_at_once

# A cpu prediction in flight reserves 60 s x $0.0001 = $0.006.
RESERVATION = Decimal("0.006")


def _fresh(persona) -> Account:
    return Account.objects.get(pk=persona.account.pk)


def _ran(account, version, seconds: float) -> UsageRecord:
    prediction = Prediction.objects.create(account=account, model=version.model, version=version, status="succeeded")
    return usage_record_for(prediction=prediction, predict_time=seconds)


def test_a_grant_makes_the_account_prepaid_and_is_kept_in_the_ledger(alice, django_user_model):
    staff = django_user_model.objects.create_user("operator", is_staff=True)
    assert _fresh(alice).credit is None
    credit_grant(account=alice.account, amount=Decimal("5"), note="welcome", granted_by=staff)
    credit_grant(account=alice.account, amount=Decimal("0.0000005"))  # rounds half up to the micro-dollar
    assert _fresh(alice).credit == Decimal("5.000001")
    assert list(CreditGrant.objects.values_list("amount", "note", "granted_by__username").order_by("pk")) == [
        (Decimal("5.000000"), "welcome", "operator"),
        (Decimal("0.000001"), "", None),
    ]


@pytest.mark.parametrize("amount", ["0", "-1", "0.0000004"])
def test_a_grant_must_be_positive_and_nothing_is_written_otherwise(alice, amount):
    with pytest.raises(ValueError):
        credit_grant(account=alice.account, amount=Decimal(amount))
    assert _fresh(alice).credit is None and not CreditGrant.objects.exists()


def test_usage_draws_credit_down_once_even_when_the_task_is_retried(alice, echo_version):
    credit_grant(account=alice.account, amount=Decimal("1"))
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    usage_record_for(prediction=prediction, predict_time=10.0)  # $0.001
    usage_record_for(prediction=prediction, predict_time=10.0)  # the retried task
    assert _fresh(alice).credit == Decimal("0.999000")
    # Paid by credit, it is still spend: the monthly limit counts it.
    assert month_to_date_spend(account=alice.account) == Decimal("0.001000")


def test_usage_of_a_postpaid_account_leaves_its_credit_empty(alice, echo_version):
    _ran(alice.account, echo_version, 10.0)
    assert _fresh(alice).credit is None


def test_credit_must_cover_the_reservations_in_flight_plus_the_new_one(alice, echo_version):
    credit_grant(account=alice.account, amount=RESERVATION * 2 - Decimal("0.000001"))
    account = _fresh(alice)
    services.prediction_create(account=account, version=echo_version, input={})  # holds one reservation
    with pytest.raises(ApiProblem) as raised:
        services.prediction_create(account=account, version=echo_version, input={})
    assert (raised.value.status, raised.value.title) == (402, "Insufficient credit")
    assert "$0.011999 left" in raised.value.detail
    assert Prediction.objects.filter(account=account).count() == 1


def test_a_prepaid_account_is_refused_over_the_api_with_nothing_stored(api, alice, echo_version):
    credit_grant(account=alice.account, amount=Decimal("0.001"))
    response = api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **alice.auth)
    assert response.status_code == 402
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "Insufficient credit"
    assert not Prediction.objects.exists() and not UsageRecord.objects.exists()


def test_credit_does_not_raise_the_spending_limit(alice, echo_version):
    credit_grant(account=alice.account, amount=Decimal("100"))
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.005"))
    with pytest.raises(ApiProblem) as raised:
        services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    assert (raised.value.status, raised.value.title) == (402, "You have reached your spending limit")


def test_a_running_prediction_never_overdraws_and_then_creation_stops(alice, echo_version):
    credit_grant(account=alice.account, amount=RESERVATION)
    account = _fresh(alice)
    running = services.prediction_create(account=account, version=echo_version, input={})
    Prediction.objects.filter(pk=running.pk).update(status="succeeded")
    # It ran for two minutes, past its one-minute reservation, which could not grow (the worker
    # stops it there: tests/billing/test_hard_limit.py): it is billed what it held.
    usage_record_for(prediction=running, predict_time=120.0)
    assert _fresh(alice).credit == Decimal("0.000000")
    with pytest.raises(ApiProblem) as raised:
        services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    assert raised.value.title == "Insufficient credit"
    credit_grant(account=alice.account, amount=Decimal("1"))  # topped up: it runs again
    services.prediction_create(account=_fresh(alice), version=echo_version, input={})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_concurrent_creates_never_spend_more_credit_than_there_is(alice, echo_version):
    credit_grant(account=alice.account, amount=RESERVATION * 3)  # room for exactly three in flight
    account = _fresh(alice)
    created, refused = create_all_at_once(account=account, version=echo_version)
    assert created == 3 and [problem.title for problem in refused] == ["Insufficient credit"] * 47
    assert Prediction.objects.filter(account=account).count() == 3
