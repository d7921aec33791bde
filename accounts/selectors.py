"""Reads of the accounts app for the browser: a signed-in user acts for their personal account."""

from django.db.models import QuerySet

from accounts.models import Account, ApiToken, Membership


def personal_account(*, user) -> Account | None:
    return (
        Account.objects.filter(kind=Account.Kind.USER, membership__user=user, membership__role=Membership.Role.OWNER)
        .order_by("pk")
        .first()
    )


def token_list(*, account: Account) -> QuerySet[ApiToken]:
    """Active tokens first, newest first within each group."""
    return account.tokens.order_by("revoked_at", "-created_at", "-pk").select_related("created_by")


def token_get(*, account: Account, token_id: int) -> ApiToken | None:
    return account.tokens.filter(pk=token_id).first()
