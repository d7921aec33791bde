"""The Django admin is the operator console: every page opens for staff and for nobody else."""

import pytest
from django.contrib.auth import get_user_model

PAGES = [
    "/admin/accounts/account/", "/admin/accounts/apitoken/", "/admin/billing/hardware/",
    "/admin/billing/usagerecord/", "/admin/inference/model/", "/admin/inference/version/",
    "/admin/inference/prediction/", "/admin/inference/file/",
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
