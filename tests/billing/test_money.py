from decimal import Decimal

import pytest

from billing.money import billable_seconds, charge, quantize_amount


@pytest.mark.parametrize(
    ("seconds", "price", "amount"),
    [
        ("1", "0.000100", "0.000100"),  # one second of CPU
        ("2.5", "0.001400", "0.003500"),  # A100
        ("0.0005", "0.000100", "0.000000"),  # rounds down below half a micro-dollar
        ("0.005", "0.000100", "0.000001"),  # exactly half rounds up
        ("3600", "0.001525", "5.490000"),  # an hour of H100
        ("0", "0.012200", "0.000000"),
        ("12.345", "0.000225", "0.002778"),  # T4, 2.777625 -> 0.002778
    ],
)
def test_charges_are_seconds_times_price_rounded_half_up_to_the_micro_unit(seconds, price, amount):
    assert charge(seconds=Decimal(seconds), price_per_second=Decimal(price)) == Decimal(amount)


@pytest.mark.parametrize(
    ("predict_time", "seconds"), [(1.23449, "1.234"), (1.2345, "1.235"), (-0.1, "0.000"), (0.0004, "0.000")]
)
def test_predict_time_is_billed_in_whole_milliseconds(predict_time, seconds):
    assert billable_seconds(predict_time) == Decimal(seconds)


def test_quantize_keeps_six_places():
    assert str(quantize_amount(Decimal("1"))) == "1.000000"
