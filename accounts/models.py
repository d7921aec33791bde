import hashlib
import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import TextChoices

TOKEN_PREFIX = "r8_"
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TOKEN_RANDOM_LENGTH = 37  # r8_ + 37 characters = 40, the length of Replicate's tokens


class Account(models.Model):
    """The namespace in `owner/name`: a user's personal account or an organization."""

    # `TextChoices`, not `models.TextChoices`: Model.owner gives Account a reverse accessor
    # named `models`, which mypy's Django plugin adds to this class; when mypy re-analyses this
    # body after that (module order varies from run to run), `models.` resolves to it.
    class Kind(TextChoices):
        USER = "user"
        ORGANIZATION = "organization"

    username = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.USER)
    github_url = models.URLField(blank=True)
    # Signs webhook deliveries (Standard Webhooks); made on first use, see inference.webhooks.
    webhook_secret = models.CharField(max_length=64, blank=True)
    # Month-to-date spend (plus reservations for predictions in flight) may not pass this;
    # null means no limit.
    spending_limit = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    # Prepaid balance; null means the account is billed afterwards (see billing.services).
    credit = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    # Its share of a shared hardware queue against other accounts' (inference/worker/records.py,
    # `claim`): an account of weight 2 starts twice as many predictions as one of weight 1 while
    # both have some waiting. An operator's setting, per plan or per customer.
    fair_share_weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="accounts")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.username


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"


def token_digest(plaintext: str) -> str:
    # Tokens carry 220 random bits, so a plain SHA-256 is a safe one-way lookup key.
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ApiToken(models.Model):
    """An `r8_` API token. Only a display prefix and the SHA-256 digest are stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tokens")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate_plaintext() -> str:
        return TOKEN_PREFIX + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(_TOKEN_RANDOM_LENGTH))
