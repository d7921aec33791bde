from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Account
from billing.models import Hardware
from inference.models import Model
from inference.registry import push
from inference.registry.packaging import PackageError


class Command(BaseCommand):
    help = "Package a Cog directory (cog.yaml + predict.py) and push it as a new version of owner/name."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("model", help="owner/name")
        parser.add_argument("--visibility", choices=Model.Visibility.values, default=Model.Visibility.PRIVATE)
        parser.add_argument("--hardware", default="cpu", help="Hardware SKU for a new model (default: cpu).")
        parser.add_argument("--description", default="")

    def handle(self, *args, directory: Path, model: str, visibility: str, hardware: str, description: str, **opts):
        owner_name, _, name = model.partition("/")
        if not owner_name or not name or "/" in name:
            raise CommandError("model must be owner/name")
        owner = Account.objects.filter(username=owner_name).first()
        if owner is None:
            raise CommandError(f"no account named {owner_name}")
        target = Model.objects.filter(owner=owner, name=name).first()
        sku = Hardware.objects.filter(sku=hardware).first()
        if target is None and sku is None:
            raise CommandError(f"unknown hardware {hardware}")
        # Resolving and building come first, printed as they go to stderr: a package that cannot
        # be met leaves nothing behind, not even the new model.
        try:
            built = push.version_build(directory.resolve(), log=self.stderr.write, existing=target, owner=owner)
        except PackageError as exc:
            raise CommandError(str(exc)) from exc
        with transaction.atomic():
            if target is None:
                assert sku is not None  # checked above
                target = push.model_create(
                    owner=owner, name=name, hardware=sku, visibility=visibility, description=description
                )
            version = push.version_save(model=target, built=built)
        self.stdout.write(f"{target.full_name}:{version.sha256}")
