from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Account
from accounts.services import token_create, user_create


class Command(BaseCommand):
    help = "Create a user with a personal account (or reuse an existing one) and print a new API token."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None, help="Password for the browser login (optional).")
        parser.add_argument("--token-name", default="cli")
        parser.add_argument("--staff", action="store_true", help="Also allow the Django admin.")

    @transaction.atomic
    def handle(self, *args, username: str, email: str, password: str | None, token_name: str, staff: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user, account = user_create(username=username, email=email, password=password)
        else:
            existing = Account.objects.filter(username=username).first()
            if existing is None:
                raise CommandError(f"user {username} exists without a personal account")
            account = existing
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
        if staff:
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        _token, plaintext = token_create(account=account, name=token_name, created_by=user)
        self.stdout.write(plaintext)
