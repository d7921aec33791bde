from io import StringIO

from django.core.management import call_command

from accounts.models import Account, ApiToken, token_digest


def create(*args) -> str:
    out = StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue().strip()


def test_it_creates_a_user_account_and_prints_a_working_token(db, api):
    token = create("carol", "--password", "a long password 42")
    assert token.startswith("r8_")
    assert Account.objects.get(username="carol").kind == "user"
    assert ApiToken.objects.get(digest=token_digest(token)).account.username == "carol"
    response = api.get("/v1/account", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["username"] == "carol"


def test_running_it_again_issues_another_token(db):
    first, second = create("carol"), create("carol")
    assert first != second
    assert ApiToken.objects.filter(account__username="carol").count() == 2
