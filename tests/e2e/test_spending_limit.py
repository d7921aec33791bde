"""The hard spending limit through the real processes: long predictions running at once on two
workers stop at the limit with the reason, and what they are billed fits in it.

A platform of its own: its processes reserve 1 s steps (BILLING_RESERVATION_SECONDS), so a
test of a few seconds crosses several steps; its workers serve a hardware SKU of their own.
"""

import time
from decimal import Decimal
from io import StringIO

import pytest
import replicate
from django.core.management import call_command

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.services import month_to_date_spend
from hosting import processes
from tests.conftest import FIXTURE_MODELS, make_persona
from tests.live_platform import server_env

pytestmark = pytest.mark.e2e

SKU = "cpu-limits"
PRICE = Decimal("0.0001")
LIMIT = Decimal("0.0010")  # ten seconds of this hardware


@pytest.fixture(scope="module")
def limited(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        Hardware.objects.get_or_create(sku=SKU, defaults={"name": "CPU (limits)", "price_per_second": PRICE})
        frank = make_persona("frank")
        Account.objects.filter(pk=frank.account.pk).update(spending_limit=LIMIT)
        call_command(
            "push", str(FIXTURE_MODELS / "sleeper"), "frank/sleeper", hardware=SKU, stdout=StringIO(), stderr=StringIO()
        )
    log_dir = tmp_path_factory.mktemp("limits-logs")
    port = processes.free_port()
    env = {**server_env(port), "BILLING_RESERVATION_SECONDS": "1"}
    daphne = processes.start_daphne(host="127.0.0.1", port=port, env=env, output=(log_dir / "daphne.log").open("ab"))
    workers = [
        processes.start_worker(queues=SKU, env=env, output=(log_dir / f"worker{n}.log").open("ab")) for n in range(2)
    ]
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", daphne)
        yield replicate.Client(api_token=frank.plaintext, base_url=f"http://127.0.0.1:{port}"), frank
    finally:
        for process in [*workers, daphne]:
            processes.stop(process)


def test_long_predictions_at_once_stop_at_the_limit_and_are_billed_within_it(limited, django_db_blocker):
    client, frank = limited
    predictions = [client.models.predictions.create(model="frank/sleeper", input={"seconds": 60}) for _ in range(4)]
    for prediction in predictions:
        prediction.wait()

    assert [p.status for p in predictions] == ["failed"] * 4
    assert all(
        p.error == f"Stopped: the account reached its spending limit of ${LIMIT.normalize()}." for p in predictions
    )
    with django_db_blocker.unblock():
        spend = month_to_date_spend(account=Account.objects.get(pk=frank.account.pk))
        records = UsageRecord.objects.filter(account=frank.account).count()
    assert records == 4  # each one ran, and each is billed once
    assert Decimal("0.0006") <= spend <= LIMIT  # they ran up to the limit, never past it
    # The next one is refused at once: nothing is left.
    with pytest.raises(replicate.exceptions.ReplicateError) as refused:
        client.models.predictions.create(model="frank/sleeper", input={"seconds": 1})
    assert refused.value.status == 402


def test_a_training_stops_at_the_limit_too_and_makes_no_version(limited, django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        trudy = make_persona("trudy")
        Account.objects.filter(pk=trudy.account.pk).update(spending_limit=LIMIT)
        call_command(
            "push",
            str(FIXTURE_MODELS / "trainable"),
            "trudy/trainable",
            hardware=SKU,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    client = replicate.Client(api_token=trudy.plaintext, base_url=limited[0]._base_url)  # this module's platform
    client.models.create(owner="trudy", name="trainable-tuned", visibility="private", hardware=SKU)
    data = tmp_path / "greeting.txt"
    data.write_text("ahoy\n")
    version = client.models.get("trudy/trainable").latest_version.id
    with data.open("rb") as train_data:
        training = client.trainings.create(
            version=f"trudy/trainable:{version}",
            input={"train_data": train_data, "epochs": 600, "seconds_per_epoch": 0.1},
            destination="trudy/trainable-tuned",
        )
    while training.status not in ("succeeded", "failed", "canceled"):
        time.sleep(0.5)
        training.reload()

    assert training.status == "failed"
    assert training.error == f"Stopped: the account reached its spending limit of ${LIMIT.normalize()}."
    assert "epoch 1 loss" in training.logs and training.output is None
    with django_db_blocker.unblock():
        assert month_to_date_spend(account=Account.objects.get(pk=trudy.account.pk)) <= LIMIT
        assert UsageRecord.objects.filter(prediction_id=training.id).exists()
    assert [v.id for v in client.models.get("trudy/trainable-tuned").versions.list()] == []
