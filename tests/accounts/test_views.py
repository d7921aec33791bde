"""Sign-up, login, logout, password reset and the API tokens page, in-process."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import Account, ApiToken, Membership

PASSWORD = "correct horse 9"


@pytest.fixture
def browser(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def signup(client, **overrides):
    data = {
        "username": "carol",
        "email": "carol@example.com",
        "password1": "a long passphrase 7",
        "password2": "a long passphrase 7",
        **overrides,
    }
    return client.post("/signup", data)


def test_sign_up_makes_a_user_with_a_personal_namespace_and_logs_them_in(client, db):
    response = signup(client)
    assert response.status_code == 302 and response["Location"] == "/account/api-tokens"
    account = Account.objects.get(username="carol")
    assert Membership.objects.get(account=account).user.email == "carol@example.com"
    assert client.get("/account/api-tokens").status_code == 200


@pytest.mark.parametrize(
    ("username", "message"),
    [("alice", "taken"), ("models", "reserved"), ("Carol", "lowercase"), ("ca rol", "lowercase")],
    ids=["taken", "reserved", "uppercase", "space"],
)
def test_sign_up_refuses_names_that_cannot_be_a_namespace(client, alice, username, message):
    response = signup(client, username=username)
    assert response.status_code == 422
    assert (
        message in response.content.decode()
        and not Account.objects.filter(username=username.lower(), pk__gt=alice.account.pk).exists()
    )


def test_sign_up_shows_password_problems_next_to_the_field(client, db):
    response = signup(client, password2="something else 7")
    assert response.status_code == 422
    assert re.search(r'class="field-error" id="id_password2_error">[^<]*didn', response.content.decode())
    assert not get_user_model().objects.exists()


def test_log_in_and_out(client, alice):
    assert client.get("/models").status_code == 302  # to the login page
    response = client.post("/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/models"
    assert client.get("/models").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/models")["Location"].startswith("/login")


def test_forms_are_csrf_protected(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 403


def test_password_reset_mails_a_working_link(client, alice):
    response = client.post("/password-reset", {"email": "alice@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"http://testserver(/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new secret 8", "new_password2": "a brand new secret 8"},
    )
    assert response.status_code == 302
    assert client.login(username="alice", password="a brand new secret 8")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, alice):
    response = client.post("/password-reset", {"email": "nobody@example.com"})
    assert response.status_code == 302 and mail.outbox == []


def test_a_new_token_is_shown_once_and_stored_only_as_a_digest(browser, alice):
    response = browser.post("/account/api-tokens", {"name": "laptop"})
    page = response.content.decode()
    plaintext = re.search(r'value="(r8_\w+)"', page).group(1)
    token = ApiToken.objects.get(name="laptop")
    assert token.account == alice.account and plaintext not in (token.prefix, token.digest)
    assert response["Cache-Control"] == "no-store"
    assert plaintext not in browser.get("/account/api-tokens").content.decode()
    assert browser.get("/v1/account", HTTP_AUTHORIZATION=f"Bearer {plaintext}").json()["username"] == "alice"


def test_a_token_needs_a_name(browser, alice):
    response = browser.post("/account/api-tokens", {"name": ""})
    assert response.status_code == 422 and ApiToken.objects.count() == 1  # alice's fixture token


def test_the_list_shows_names_and_last_use(browser, alice):
    browser.get("/v1/account", **alice.auth)
    page = browser.get("/account/api-tokens").content.decode()
    assert alice.token.prefix in page and alice.plaintext not in page
    assert re.search(r">(now|\d+ seconds? ago)</time>", page)  # last used


def test_revoking_a_token(browser, alice):
    response = browser.post(f"/account/api-tokens/{alice.token.pk}/revoke")
    assert response.status_code == 302
    alice.token.refresh_from_db()
    assert alice.token.revoked_at is not None
    assert browser.get("/v1/account", **alice.auth).status_code == 401


def test_another_tenants_token_cannot_be_revoked(browser, bob):
    response = browser.post(f"/account/api-tokens/{bob.token.pk}/revoke")
    assert response.status_code == 404
    bob.token.refresh_from_db()
    assert bob.token.revoked_at is None


def test_a_user_made_without_sign_up_gets_a_namespace_on_first_visit(client, db):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.login(username="root", password=PASSWORD)
    assert client.get("/account/api-tokens").status_code == 200
    assert Account.objects.filter(username="root", membership__user__username="root").exists()


@pytest.mark.parametrize(("typed", "page"), [("/login/", "/login"), ("/signup/", "/signup")])
def test_the_login_and_sign_up_pages_answer_with_a_trailing_slash_too(client, db, typed, page):
    response = client.get(f"{typed}?next=/predictions")
    assert response.status_code == 302 and response["Location"] == f"{page}?next=/predictions"
    assert client.get(typed, follow=True).status_code == 200
