import base64
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts import selectors
from accounts.models import Account, ApiToken, Membership, token_digest

if TYPE_CHECKING:
    # The user model get_user_model() returns (AUTH_USER_MODEL is Django's own).
    from django.contrib.auth.models import AnonymousUser, User


@transaction.atomic
def user_create(*, username: str, email: str = "", password: str | None = None) -> tuple["User", Account]:
    """Create a user together with the personal account that namespaces their models."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    account = Account.objects.create(username=username, name=username, kind=Account.Kind.USER)
    Membership.objects.create(account=account, user=user, role=Membership.Role.OWNER)
    return user, account


def token_create(*, account: Account, name: str = "", created_by: "User | None" = None) -> tuple[ApiToken, str]:
    """Issue a token. The plaintext is returned once and never stored."""
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken.objects.create(
        account=account,
        created_by=created_by,
        name=name,
        prefix=plaintext[:7],
        digest=token_digest(plaintext),
    )
    return token, plaintext


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def personal_account_for(*, user: "User | AnonymousUser") -> Account:
    """The personal account a signed-in user acts for in the browser. Users made without
    `user_create` (e.g. by `createsuperuser`) get theirs on first use.

    Takes `request.user` as views have it; an anonymous user (kept out by login_required)
    is a TypeError, as it always was (it cannot stand in for a user in a query)."""
    if not user.is_authenticated:
        raise TypeError("personal_account_for needs a signed-in user, not AnonymousUser")
    account = selectors.personal_account(user=user)
    if account is None:
        account = Account.objects.create(username=user.username, name=user.username, kind=Account.Kind.USER)
        Membership.objects.create(account=account, user=user, role=Membership.Role.OWNER)
    return account


def spending_limit_set(*, account: Account, limit: Decimal | None) -> None:
    """Set (or with None, remove) the account's monthly spending limit."""
    Account.objects.filter(pk=account.pk).update(spending_limit=limit)
    account.spending_limit = limit


def webhook_secret(account: Account) -> str:
    """The account's webhook signing secret, made on first use. Standard base64: the Python
    client splits the secret on "_" and needs exactly two parts."""
    if not account.webhook_secret:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        Account.objects.filter(pk=account.pk, webhook_secret="").update(webhook_secret=secret)
        account.refresh_from_db(fields=["webhook_secret"])
    return account.webhook_secret
