"""The self-hosting breakeven (billing/breakeven.py): per SKU an account used in the last 30
days, its hours a day, a month of them billed per second, the operator's reserved price and the
hours a day at which the two cross; in GET /v1/account/usage and on the usage page."""

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.breakeven import DayOfUse, account_breakeven, breakeven_hours_per_day
from billing.breakeven_chart import breakeven_chart, hours_text, nice_max
from billing.models import Hardware, UsageRecord
from billing.services import usage_record_for
from inference.models import Model, Prediction, Version

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # the window: 3 February to 4 March
CPU_RESERVED = Decimal("30.00")  # 30 / (0.0001 x 3600 x 30) = 2.7777... h a day
T4_RESERVED = Decimal("60.00")  # 60 / (0.000225 x 3600 x 30) = 2.469135... h a day


def _bill(account, version, seconds: float, when: datetime) -> UsageRecord:
    prediction = Prediction.objects.create(account=account, model=version.model, version=version, status="succeeded")
    record = usage_record_for(prediction=prediction, predict_time=seconds)
    UsageRecord.objects.filter(pk=record.pk).update(created_at=when)
    return record


def _reserve(sku: str, price: Decimal | None) -> None:
    Hardware.objects.filter(sku=sku).update(reserved_monthly_price=price)


@pytest.fixture
def t4_version(alice, cpu, echo_version) -> Version:
    """alice's public model on gpu-t4, which bob may run too (billed to bob)."""
    model = Model.objects.create(
        owner=alice.account,
        name="painter",
        hardware=Hardware.objects.get(sku="gpu-t4"),
        visibility=Model.Visibility.PUBLIC,
    )
    return Version.objects.create(
        model=model,
        sha256="b" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=echo_version.openapi_schema,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )


@pytest.fixture
def usage(alice, bob, echo_version, t4_version):
    """alice, cpu: 3600 s + 1800 s at the first moment of the window, 7200 s today, and runs
    just before the window and just after NOW that do not count: 12,600 s = 3.5 h in all.
    alice, gpu-t4: 36,000 s (10 h) on each of the 10 days 20 February to 1 March: 100 h.
    bob: 100,000 s on alice's t4 model, his usage, not hers."""
    _bill(alice.account, echo_version, 3600, datetime(2026, 2, 3, 0, 0, tzinfo=UTC))
    _bill(alice.account, echo_version, 1800, datetime(2026, 2, 3, 23, 59, 59, tzinfo=UTC))
    _bill(alice.account, echo_version, 7200, datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    _bill(alice.account, echo_version, 5000, datetime(2026, 2, 2, 23, 59, 59, tzinfo=UTC))
    _bill(alice.account, echo_version, 1000, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    for day in range(10):
        _bill(alice.account, t4_version, 36000, datetime(2026, 2, 20, 12, 0, tzinfo=UTC) + timedelta(days=day))
    _bill(bob.account, t4_version, 100000, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    _reserve("cpu", CPU_RESERVED)
    _reserve("gpu-t4", T4_RESERVED)


def test_every_figure_of_known_usage_at_known_prices(alice, usage):
    breakeven = account_breakeven(account=alice.account, now=NOW)
    assert (breakeven.window_start, breakeven.window_end) == (date(2026, 2, 3), date(2026, 3, 4))
    t4, cpu = breakeven.skus  # most hours first

    assert (t4.sku, t4.name, t4.price_per_second) == ("gpu-t4", "Nvidia T4 GPU", Decimal("0.000225"))
    assert t4.seconds == Decimal("360000.000")
    assert t4.average_hours_per_day == Decimal("3.3333")  # 100 h / 30 days
    assert t4.per_second_monthly_cost == Decimal("81.000000")  # 3.333... h x 3600 x $0.000225 x 30
    assert t4.reserved_monthly_price == Decimal("60.000000")
    assert (t4.reserved_machines, t4.reserved_monthly_cost) == (1, Decimal("60.000000"))
    assert t4.breakeven_hours_per_day == Decimal("2.4691")  # $60 / ($0.000225 x 3600 x 30)
    assert t4.cheaper == "reserved"
    hours = {day.date: day.hours for day in t4.days}
    assert len(t4.days) == 30 and [day.date for day in t4.days][0] == date(2026, 2, 3)
    assert {day for day, value in hours.items() if value} == {date(2026, 2, 20) + timedelta(days=n) for n in range(10)}
    assert set(hours.values()) == {Decimal("10.0000"), Decimal("0.0000")}

    assert (cpu.sku, cpu.price_per_second) == ("cpu", Decimal("0.000100"))
    assert cpu.seconds == Decimal("12600.000")
    assert cpu.average_hours_per_day == Decimal("0.1167")  # 3.5 h / 30 days
    assert cpu.per_second_monthly_cost == Decimal("1.260000")  # 12,600 s x $0.0001
    assert (cpu.reserved_monthly_price, cpu.breakeven_hours_per_day) == (Decimal("30.000000"), Decimal("2.7778"))
    assert cpu.cheaper == "per_second"
    assert [(day.date, day.seconds, day.hours) for day in cpu.days if day.seconds] == [
        (date(2026, 2, 3), Decimal("5400.000"), Decimal("1.5000")),
        (date(2026, 3, 4), Decimal("7200.000"), Decimal("2.0000")),
    ]


def test_another_tenants_usage_never_counts(alice, bob, usage):
    """bob ran alice's model: the hours are bob's, on bob's bill, and alice's figures above hold."""
    (t4,) = account_breakeven(account=bob.account, now=NOW).skus
    assert (t4.sku, t4.seconds, t4.average_hours_per_day) == ("gpu-t4", Decimal("100000.000"), Decimal("0.9259"))
    assert t4.per_second_monthly_cost == Decimal("22.500000") and t4.cheaper == "per_second"
    assert [day.date for day in t4.days if day.seconds] == [date(2026, 3, 2)]
    alices = {sku.sku: sku.seconds for sku in account_breakeven(account=alice.account, now=NOW).skus}
    assert alices == {"gpu-t4": Decimal("360000.000"), "cpu": Decimal("12600.000")}


def test_without_a_reserved_price_there_is_nothing_to_weigh(alice, usage):
    _reserve("gpu-t4", None)
    t4 = account_breakeven(account=alice.account, now=NOW).skus[0]
    assert (t4.reserved_monthly_price, t4.breakeven_hours_per_day, t4.cheaper) == (None, None, None)
    assert (t4.reserved_machines, t4.reserved_monthly_cost) == (1, None)
    assert t4.per_second_monthly_cost == Decimal("81.000000")


def test_at_exactly_the_reserved_price_neither_is_cheaper(alice, usage):
    _reserve("gpu-t4", Decimal("81"))
    t4 = account_breakeven(account=alice.account, now=NOW).skus[0]
    assert (t4.cheaper, t4.breakeven_hours_per_day, t4.average_hours_per_day) == (
        "equal",
        Decimal("3.3333"),
        Decimal("3.3333"),
    )


def test_more_than_a_day_of_hours_a_day_needs_more_than_one_reserved_machine(alice, t4_version):
    """30 h a day on average (3,240,000 s in 30 days) takes two machines: past the per-machine
    breakeven of 20.58 h, yet per-second billing ($729) still costs less than two reserved ($1,000)."""
    _bill(alice.account, t4_version, 3_240_000, datetime(2026, 3, 1, tzinfo=UTC))
    _reserve("gpu-t4", Decimal("500"))
    (t4,) = account_breakeven(account=alice.account, now=NOW).skus
    assert (t4.average_hours_per_day, t4.breakeven_hours_per_day) == (Decimal("30.0000"), Decimal("20.5761"))
    assert (t4.per_second_monthly_cost, t4.reserved_machines, t4.reserved_monthly_cost) == (
        Decimal("729.000000"),
        2,
        Decimal("1000.000000"),
    )
    assert t4.cheaper == "per_second"
    _reserve("gpu-t4", Decimal("300"))
    (t4,) = account_breakeven(account=alice.account, now=NOW).skus
    assert (t4.reserved_monthly_cost, t4.cheaper) == (Decimal("600.000000"), "reserved")


def test_the_page_words_the_machines_a_heavy_account_would_reserve(client, alice, t4_version):
    prediction = Prediction.objects.create(account=alice.account, model=t4_version.model, version=t4_version)
    usage_record_for(prediction=prediction, predict_time=3_240_000)  # 30 h a day over the window
    _reserve("gpu-t4", Decimal("500"))
    client.login(username="alice", password="correct horse 9")
    page = client.get("/account/usage").content.decode()
    assert "$1000.00 a month <small>for 2 machines at $500.00" in page
    assert "$729.00 a month against $1000.00 for the 2 reserved machines that 30.00 h a day needs" in page
    _reserve("gpu-t4", Decimal("300"))
    page = client.get("/account/usage").content.decode()
    assert "Reserved machines would be cheaper for you</strong>: 2 at $600.00 a month" in page


def test_an_account_without_usage_in_the_window_has_no_skus(alice, usage):
    assert account_breakeven(account=alice.account, now=datetime(2026, 5, 1, tzinfo=UTC)).skus == []


def test_the_breakeven_formula_and_a_free_sku():
    # a T4 reserved at $200 a month pays off above 8.23 h a day
    assert breakeven_hours_per_day(reserved_monthly_price=Decimal(200), price_per_second=Decimal("0.000225")) == (
        Decimal("8.2305")
    )
    assert breakeven_hours_per_day(reserved_monthly_price=Decimal(200), price_per_second=Decimal(0)) is None


def test_the_chart_draws_the_bars_and_the_breakeven_line_to_scale(alice, usage):
    t4, cpu = account_breakeven(account=alice.account, now=NOW).skus
    chart = breakeven_chart(t4)
    assert chart.axis_max == 10.0 and len(chart.bars) == 30  # the 10 h days reach the top
    plot_top, baseline = 10, chart.baseline
    assert baseline == 158
    tall = [bar for bar in chart.bars if bar.hours]
    assert len(tall) == 10 and {(bar.y, bar.height) for bar in tall} == {(plot_top, 148.0)}
    assert {bar.height for bar in chart.bars if not bar.hours} == {0.0}
    assert chart.breakeven_y == round(baseline - 2.4691 / 10 * 148, 2)
    assert chart.average_y == round(baseline - 3.3333 / 10 * 148, 2)
    assert [line.label for line in chart.gridlines] == ["0 h", "2.5 h", "5 h", "7.5 h", "10 h"]
    assert [bar.label for bar in chart.bars if bar.label] == ["Feb 5", "10", "15", "20", "25", "Mar 1"]
    assert chart.average_text == "3.33"

    cpu_chart = breakeven_chart(cpu)  # 2 h at most, the breakeven at 2.78 h: the axis reaches 5
    assert cpu_chart.axis_max == 5.0 and cpu_chart.breakeven_y == round(baseline - 2.7778 / 5 * 148, 2)


def test_the_days_are_labelled_every_fifth_and_on_the_first_of_a_month(alice, usage):
    """3 Nov to 2 Dec: the 30th, a day before 1 December, would crowd it and goes unlabelled."""
    cpu = account_breakeven(account=alice.account, now=NOW).skus[1]
    days = [
        DayOfUse(date=date(2026, 11, 3) + timedelta(days=n), seconds=Decimal(0), hours=Decimal(0)) for n in range(30)
    ]
    labels = [bar.label for bar in breakeven_chart(replace(cpu, days=days)).bars if bar.label]
    assert labels == ["Nov 5", "10", "15", "20", "25", "Dec 1"]


def test_a_breakeven_past_a_whole_day_is_left_off_the_chart(alice, usage):
    _reserve("cpu", Decimal("500"))  # 46.3 h a day: no one machine gets there
    cpu = account_breakeven(account=alice.account, now=NOW).skus[1]
    chart = breakeven_chart(cpu)
    assert cpu.breakeven_hours_per_day == Decimal("46.2963") and cpu.cheaper == "per_second"
    assert (chart.axis_max, chart.breakeven_y) == (24.0, None)


def test_a_little_use_is_not_called_none():
    assert hours_text(Decimal("0.0015"), seconds=Decimal("162.000")) == "under 0.01"
    assert hours_text(Decimal("0.0000"), seconds=Decimal("0.100")) == "under 0.01"
    assert hours_text(Decimal("0.0050"), seconds=Decimal("540.000")) == "0.01"
    assert hours_text(Decimal("0.0000"), seconds=Decimal("0.000")) == "0.00"


@pytest.mark.parametrize(
    ("value", "axis"), [(0, 1.0), (0.0004, 0.0005), (2.0, 2.0), (2.7778, 5.0), (13, 20.0), (21, 24.0), (30, 50.0)]
)
def test_the_axis_ends_on_round_hours(value, axis):
    assert nice_max(value) == pytest.approx(axis)


def test_the_endpoint_serves_the_breakeven_beside_the_unchanged_usage(api, alice, bob, t4_version):
    _reserve("gpu-t4", Decimal("48.60"))  # 48.6 / 24.3 = 2 h a day
    for seconds in (5400, 1800):
        prediction = Prediction.objects.create(account=alice.account, model=t4_version.model, version=t4_version)
        usage_record_for(prediction=prediction, predict_time=seconds)
    prediction = Prediction.objects.create(account=bob.account, model=t4_version.model, version=t4_version)
    usage_record_for(prediction=prediction, predict_time=999)

    body = api.get("/v1/account/usage", **alice.auth).json()
    assert body["month_to_date_spend"] == "1.620000"  # the fields that were there are unchanged
    today = datetime.now(UTC).date()
    breakeven = body["breakeven"]
    assert {key: value for key, value in breakeven.items() if key != "hardware"} == {
        "window_start": (today - timedelta(days=29)).isoformat(),
        "window_end": today.isoformat(),
        "window_days": 30,
        "month_days": 30,
    }
    (t4,) = breakeven["hardware"]
    days = t4.pop("hours_per_day")
    assert t4 == {
        "sku": "gpu-t4",
        "name": "Nvidia T4 GPU",
        "price_per_second": "0.00022500",
        "average_hours_per_day": "0.0667",  # 2 h / 30 days
        "per_second_monthly_cost": "1.620000",  # 7,200 s x $0.000225
        "reserved_monthly_price": "48.600000",
        "reserved_machines": 1,
        "reserved_monthly_cost": "48.600000",
        "breakeven_hours_per_day": "2.0000",
        "cheaper": "per_second",
    }
    assert len(days) == 30 and days[-1] == {"date": today.isoformat(), "seconds": "7200.000", "hours": "2.0000"}
    assert all(day["seconds"] == "0.000" for day in days[:-1])

    bobs = api.get("/v1/account/usage", **bob.auth).json()["breakeven"]["hardware"]
    assert [(sku["sku"], sku["hours_per_day"][-1]["seconds"]) for sku in bobs] == [("gpu-t4", "999.000")]


def test_the_usage_page_shows_each_sku_its_figures_and_chart(client, alice, echo_version, t4_version):
    _reserve("gpu-t4", Decimal("48.60"))
    for version, seconds in ((t4_version, 7200), (echo_version, 36)):
        prediction = Prediction.objects.create(account=alice.account, model=version.model, version=version)
        usage_record_for(prediction=prediction, predict_time=seconds)
    client.login(username="alice", password="correct horse 9")
    page = client.get("/account/usage").content.decode()
    assert re.findall(r'<article class="breakeven" data-sku="([\w-]+)"', page) == ["gpu-t4", "cpu"]
    t4_part, cpu_part = page.split('data-sku="gpu-t4"')[1].split('data-sku="cpu"')
    assert "0.07 h a day" in t4_part and "$1.6200 a month" in t4_part and "$48.60 a month" in t4_part
    assert "2.00 h a day" in t4_part and 'data-cheaper="per_second"' in t4_part
    assert "Per-second billing is cheaper for you" in t4_part
    assert t4_part.count('class="bar"') == 30 and 'data-line="breakeven"' in t4_part
    assert "not offered" in cpu_part and 'data-cheaper=""' in cpu_part and 'data-line="breakeven"' not in cpu_part
    assert "No reserved cpu machine is offered" in cpu_part


def test_the_usage_page_says_when_nothing_ran_in_the_window(client, alice):
    client.login(username="alice", password="correct horse 9")
    page = client.get("/account/usage").content.decode()
    assert 'data-testid="breakeven"' in page and "Nothing has run in the last 30 days." in page


def test_the_operator_sets_and_clears_a_reserved_price_in_the_admin(client, alice, echo_version):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("operator", "operator@example.com", "correct horse 9")
    client.force_login(staff)
    cpu = echo_version.model.hardware
    fields = {"sku": "cpu", "name": "CPU", "price_per_second": "0.00010000", "currency": "USD"}
    assert "reserved_monthly_price" in client.get(f"/admin/billing/hardware/{cpu.pk}/change/").content.decode()
    response = client.post(f"/admin/billing/hardware/{cpu.pk}/change/", {**fields, "reserved_monthly_price": "21.60"})
    assert response.status_code == 302
    _bill(alice.account, echo_version, 36, NOW)
    (row,) = account_breakeven(account=alice.account, now=NOW).skus
    assert (row.reserved_monthly_price, row.breakeven_hours_per_day) == (Decimal("21.600000"), Decimal("2.0000"))

    refused = client.post(f"/admin/billing/hardware/{cpu.pk}/change/", {**fields, "reserved_monthly_price": "-1"})
    assert refused.status_code == 200 and Hardware.objects.get(pk=cpu.pk).reserved_monthly_price == Decimal("21.6")
    client.post(f"/admin/billing/hardware/{cpu.pk}/change/", {**fields, "reserved_monthly_price": ""})
    assert Hardware.objects.get(pk=cpu.pk).reserved_monthly_price is None
