"""Sign-up, API tokens and revocation in a real browser."""

import re
import time

import pytest
import replicate
from playwright.sync_api import Page, expect
from replicate.exceptions import ReplicateError

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_sign_up_create_a_token_and_copy_it(page: Page, platform):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Email").fill("dana@example.com")
    page.locator("#id_password1").fill("a long passphrase 7")
    page.get_by_label("Password confirmation").fill("a long passphrase 7")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(f"{platform.url}/account/api-tokens")
    expect(page.get_by_text("Welcome to Hearth, dana")).to_be_visible()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("New API token")
    plaintext = shown.input_value()
    assert plaintext.startswith("r8_") and len(plaintext) == 40
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == plaintext

    client = replicate.Client(api_token=plaintext, base_url=platform.url)
    assert client.accounts.current().username == "dana"  # a personal namespace of its own
    page.reload()  # a plain GET: the token is neither shown again nor created twice
    expect(page.get_by_label("New API token")).to_have_count(0)
    expect(page.get_by_role("cell", name="laptop", exact=True)).to_have_count(1)
    last_used = page.get_by_role("row", name="laptop").locator("td").nth(3)
    expect(last_used).to_have_text(re.compile(r"^(now|\d+ seconds? ago)$"))  # by the client, just now
    assert plaintext not in page.content()


def test_log_out_and_back_in(page: Page, platform):
    log_in(page)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{platform.url}/login")
    page.goto("/predictions")
    expect(page).to_have_url(f"{platform.url}/login?next=/predictions")


def test_a_revoked_token_is_refused_by_the_api(alice_page: Page, platform):
    page = alice_page
    page.goto("/account/api-tokens")
    page.get_by_label("Name").fill("short-lived")
    page.get_by_role("button", name="Create token").click()
    plaintext = page.get_by_label("New API token").input_value()
    client = replicate.Client(api_token=plaintext, base_url=platform.url)
    assert client.accounts.current().username == "alice"

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row", name="short-lived").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Revoked “short-lived”")).to_be_visible()
    expect(page.get_by_role("row", name="short-lived")).to_contain_text("Revoked")

    # The web process caches a token's identity for TOKEN_CACHE_SECONDS (5 s by default).
    deadline = time.monotonic() + 8
    while True:
        try:
            client.accounts.current()
        except ReplicateError as exc:
            refused = exc
            break
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.25)
    assert refused.status == 401


@pytest.mark.parametrize(("typed", "button"), [("/login/", "Log in"), ("/signup/", "Sign up")])
def test_the_login_and_sign_up_addresses_people_type_with_a_slash_work(page: Page, platform, typed, button):
    page.goto(typed)
    expect(page).to_have_url(f"{platform.url}{typed.rstrip('/')}")
    expect(page.get_by_role("button", name=button)).to_be_visible()
