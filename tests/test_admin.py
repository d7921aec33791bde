"""The Django admin is the operator console: every page opens for staff and for nobody else."""

import re

import pytest
from django.contrib.auth import get_user_model

PAGES = [
    "/admin/accounts/account/",
    "/admin/accounts/apitoken/",
    "/admin/billing/hardware/",
    "/admin/billing/usagerecord/",
    "/admin/inference/model/",
    "/admin/inference/version/",
    "/admin/inference/prediction/",
    "/admin/inference/file/",
    "/admin/inference/collection/",
    "/admin/inference/collection/add/",
    "/admin/inference/deployment/",
    "/admin/billing/creditgrant/",
]


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("operator", password="x", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("page", PAGES)
def test_staff_can_open_each_console_page(client, staff, echo_version, page):
    client.force_login(staff)
    assert client.get(page).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_other_users_are_sent_to_the_login(client, alice, page):
    client.force_login(get_user_model().objects.get(username="alice"))
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- what the console does, beyond opening --------------------------------------------------

from decimal import Decimal  # noqa: E402

from accounts.models import Account  # noqa: E402
from billing.models import CreditGrant, DisabledModel, Hardware, UsageRecord  # noqa: E402
from billing.services import usage_record_for  # noqa: E402
from inference.deployments.services import deployment_create  # noqa: E402
from inference.models import Prediction  # noqa: E402


def _objects_pages(alice, echo_version) -> list[str]:
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    usage = usage_record_for(prediction=prediction, predict_time=3)
    deployment = deployment_create(
        account=alice.account,
        name="echo-prod",
        version=echo_version,
        hardware=echo_version.model.hardware,
        min_instances=0,
        max_instances=1,
    )
    return [
        f"/admin/inference/deployment/{deployment.pk}/change/",
        f"/admin/accounts/account/{alice.account.pk}/change/",
        f"/admin/accounts/apitoken/{alice.token.pk}/change/",
        f"/admin/inference/model/{echo_version.model.pk}/change/",
        f"/admin/inference/version/{echo_version.pk}/change/",
        f"/admin/inference/prediction/{prediction.pk}/change/",
        f"/admin/billing/hardware/{echo_version.model.hardware.pk}/change/",
        f"/admin/billing/usagerecord/{usage.pk}/change/",
    ]


def test_staff_can_open_each_object_page_and_others_cannot(client, staff, alice, echo_version):
    pages = _objects_pages(alice, echo_version)
    client.force_login(staff)
    assert [client.get(page).status_code for page in pages] == [200] * len(pages)
    client.force_login(get_user_model().objects.get(username="alice"))
    assert all(client.get(page)["Location"].startswith("/admin/login/") for page in pages)


def test_the_account_list_shows_this_months_spend_limit_and_credit(client, staff, alice, echo_version):
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("25"), credit=Decimal("3"))
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    usage_record_for(prediction=prediction, predict_time=12.5)  # $0.00125
    client.force_login(staff)
    page = client.get("/admin/accounts/account/").content.decode()
    assert "0.001250" in page and "25.000000" in page and "2.998750" in page


def _credit_action(client, account, **extra):
    return client.post("/admin/accounts/account/", {"action": "add_credit", "_selected_action": [account.pk], **extra})


def test_staff_credit_an_account_through_the_action(client, staff, alice, bob):
    client.force_login(staff)
    form = _credit_action(client, alice.account)
    assert form.status_code == 200 and b"Add prepaid credit" in form.content
    refused = _credit_action(client, alice.account, apply="1", amount="-4", note="")
    assert refused.status_code == 200 and not CreditGrant.objects.exists()  # the form again, with its error
    done = _credit_action(client, alice.account, apply="1", amount="10.50", note="invoice 7")
    assert done.status_code == 302
    grant = CreditGrant.objects.get()
    assert (grant.account_id, grant.amount, grant.note, grant.granted_by) == (
        alice.account.pk,
        Decimal("10.5"),
        "invoice 7",
        staff,
    )
    assert Account.objects.get(pk=alice.account.pk).credit == Decimal("10.5")
    assert Account.objects.get(pk=bob.account.pk).credit is None


def test_non_staff_cannot_credit_anything(client, alice):
    client.force_login(get_user_model().objects.get(username="alice"))
    response = _credit_action(client, alice.account, apply="1", amount="1000", note="")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Account.objects.get(pk=alice.account.pk).credit is None and not CreditGrant.objects.exists()


def test_staff_edit_hardware_prices_and_new_usage_uses_them(client, staff, alice, echo_version):
    cpu = echo_version.model.hardware
    client.force_login(staff)
    response = client.post(
        f"/admin/billing/hardware/{cpu.pk}/change/",
        {"sku": "cpu", "name": "CPU", "price_per_second": "0.00020000", "currency": "USD"},
    )
    assert response.status_code == 302
    created = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    prediction = Prediction.objects.select_related("model__hardware").get(pk=created.pk)  # as the worker loads it
    assert usage_record_for(prediction=prediction, predict_time=10).amount == Decimal("0.002")
    assert Hardware.objects.get(pk=cpu.pk).price_per_second == Decimal("0.0002")


def test_usage_records_are_read_only_and_the_list_shows_totals(client, staff, alice, echo_version):
    for seconds in (10, 20.5):
        prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
        record = usage_record_for(prediction=prediction, predict_time=seconds)
    client.force_login(staff)
    page = client.get("/admin/billing/usagerecord/").content.decode()
    assert "30.500 s, $0.003050" in page
    response = client.post(f"/admin/billing/usagerecord/{record.pk}/change/", {"amount": "0"})
    assert response.status_code == 403
    assert client.post(f"/admin/billing/usagerecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UsageRecord.objects.get(pk=record.pk).amount == Decimal("0.002050")


def test_staff_disable_a_model_and_it_refuses_predictions(client, api, staff, alice, echo_version):
    client.force_login(staff)
    response = client.post(
        "/admin/inference/model/", {"action": "disable", "_selected_action": [echo_version.model.pk]}
    )
    assert response.status_code == 302 and DisabledModel.objects.filter(model=echo_version.model).exists()
    assert "alice/echo" in client.get("/admin/inference/model/?disabled__isempty=0").content.decode()
    assert "alice/echo" not in client.get("/admin/inference/model/?disabled__isempty=1").content.decode()
    created = api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **alice.auth)
    assert created.status_code == 409
    client.post("/admin/inference/model/", {"action": "enable", "_selected_action": [echo_version.model.pk]})
    assert not DisabledModel.objects.exists()


def test_predictions_filter_by_status_model_and_account(client, staff, alice, bob, echo_version):
    mine = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, status="failed"
    )
    other = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, status="succeeded"
    )
    client.force_login(staff)
    query = f"?status__exact=failed&model__id__exact={echo_version.model.pk}&account__id__exact={alice.account.pk}"
    page = client.get("/admin/inference/prediction/" + query).content.decode()
    assert mine.id in page and other.id not in page


def test_staff_revoke_a_token_and_it_stops_working(client, api, staff, alice):
    client.force_login(staff)
    response = client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [alice.token.pk]})
    assert response.status_code == 302
    assert api.get("/v1/account", **alice.auth).status_code == 401


def test_predictions_are_read_only_in_the_console(client, staff, alice, echo_version):
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    client.force_login(staff)
    assert client.post(f"/admin/inference/prediction/{prediction.pk}/change/", {"status": "failed"}).status_code == 403
    assert client.post(f"/admin/inference/prediction/{prediction.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Prediction.objects.get(pk=prediction.pk).status == "starting"


def test_a_models_page_takes_its_catalogue_entry_with_the_example_by_id(client, staff, alice, echo_version):
    from inference.models import Prediction

    for text in ("one", "two", "three"):
        Prediction.objects.create(
            account=alice.account, model=echo_version.model, version=echo_version, input={"text": text}
        )
    client.force_login(staff)
    page = client.get(f"/admin/inference/model/{echo_version.model.pk}/change/").content.decode()
    # A prediction id to type, not a select that lists every prediction there is.
    field = re.search(r'<(input|select)[^>]*name="default_example"[^>]*>', page)
    assert field and field[1] == "input" and "vForeignKeyRawIdAdminField" in field[0]
    assert 'name="cover_image"' in page and 'name="demo_weights"' in page and 'name="readme"' in page
