"""The fair claim: a message from a SKU's shared queue runs the prediction fairest to run next
there, so one account's long queue does not make every other account wait behind it."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware
from inference.deployments.services import deployment_create
from inference.models import Model, Prediction
from inference.worker import records


@pytest.fixture
def public_echo(echo_version):
    Model.objects.filter(pk=echo_version.model_id).update(visibility="public")
    return echo_version


def waiting(persona, version, count: int, **fields) -> list[Prediction]:
    made = []
    for _ in range(count):
        made.append(Prediction.objects.create(account=persona.account, model=version.model, version=version, **fields))
    return made


def started(persona, version, count: int, *, ago: float = 5) -> None:
    waiting(persona, version, count, status="succeeded", started_at=timezone.now() - timedelta(seconds=ago))


def claim(named: Prediction) -> Prediction | None:
    return records.claim(named.id, now=timezone.now(), fair=True)


def test_an_account_that_started_fewer_lately_goes_first(alice, bob, public_echo):
    alices = waiting(alice, public_echo, 3)
    bobs = waiting(bob, public_echo, 2)  # queued after alice's
    started(alice, public_echo, 2)

    first = claim(alices[0])  # alice's message
    assert first.id == bobs[0].id and first.status == "processing"
    assert Prediction.objects.get(pk=alices[0].pk).status == "starting"  # waits for a later message


def test_with_equal_shares_the_oldest_goes_first(alice, bob, public_echo):
    alices = waiting(alice, public_echo, 2)
    waiting(bob, public_echo, 2)
    assert claim(alices[1]).id == alices[0].id


def test_starts_outside_the_window_do_not_count(alice, bob, public_echo):
    alices = waiting(alice, public_echo, 1)
    waiting(bob, public_echo, 1)
    started(alice, public_echo, 3, ago=900)
    with override_settings(FAIR_SHARE_WINDOW_SECONDS=600):
        assert claim(alices[0]).id == alices[0].id


def test_a_heavier_account_gets_more_of_the_queue(alice, bob, public_echo):
    Account.objects.filter(pk=alice.account.pk).update(fair_share_weight=4)
    alices = waiting(alice, public_echo, 1)
    waiting(bob, public_echo, 1)
    started(alice, public_echo, 3)  # 3 / 4
    started(bob, public_echo, 1)  # 1 / 1
    assert claim(alices[0]).id == alices[0].id


def test_a_burst_of_another_account_starts_before_the_long_queue_drains(alice, bob, public_echo):
    alices = waiting(alice, public_echo, 30)
    bobs = waiting(bob, public_echo, 5)
    order = []
    for message in alices + bobs:  # one message per prediction, in the order they were queued
        claimed = claim(message)
        assert claimed is not None
        order.append(claimed.account_id)
        Prediction.objects.filter(pk=claimed.pk).update(status="succeeded")
    # Each of bob's comes right after one of alice's: bob's 5 are all done by the 10th start.
    assert [n for n, account in enumerate(order) if account == bob.account.pk] == [1, 3, 5, 7, 9]
    assert len(order) == 35 and not Prediction.objects.filter(status="starting").exists()


def test_other_hardware_and_deployments_keep_their_own_queues(alice, bob, public_echo, cpu):
    alices = waiting(alice, public_echo, 1)
    gpu = Hardware.objects.get(sku="gpu-t4")
    waiting(bob, public_echo, 1, hardware=gpu)
    deployment = deployment_create(
        account=bob.account, name="bobs", version=public_echo, hardware=cpu, min_instances=0, max_instances=1
    )
    waiting(bob, public_echo, 1, deployment=deployment)
    started(alice, public_echo, 5)
    assert claim(alices[0]).id == alices[0].id


def test_a_message_whose_prediction_went_already_runs_another_or_nothing(alice, public_echo):
    first, second = waiting(alice, public_echo, 2)
    assert claim(second).id == first.id
    assert claim(first).id == second.id
    assert claim(first) is None
    # The exact claim, for forwarded messages and deployments', is as before.
    third = waiting(alice, public_echo, 1)[0]
    assert records.claim(third.id, now=timezone.now()).id == third.id
