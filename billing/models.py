from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from billing.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

# Per-second rates need more places than the currency has; charges are rounded separately.
RATE_MAX_DIGITS = 12
RATE_DECIMAL_PLACES = 8


class Hardware(models.Model):
    """A hardware SKU: the queue a model's predictions run on, and its price per second."""

    sku = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    price_per_second = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    currency = models.CharField(max_length=3, default="USD")
    # What the operator would charge for a machine of this SKU reserved for a month, the other
    # side of the usage page's breakeven (billing/breakeven.py). Empty: not offered, no breakeven.
    reserved_monthly_price = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Monthly price of a reserved machine of this SKU, for the usage page's breakeven. Empty: none.",
    )

    class Meta:
        ordering = ["price_per_second", "sku"]
        verbose_name_plural = "hardware"

    def __str__(self) -> str:
        return self.sku


class UsageRecord(models.Model):
    """The charge for one prediction that ran: written once, never changed."""

    prediction = models.OneToOneField("inference.Prediction", on_delete=models.PROTECT, related_name="usage")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="usage_records")
    model = models.ForeignKey("inference.Model", on_delete=models.PROTECT, related_name="usage_records")
    hardware = models.ForeignKey(Hardware, on_delete=models.PROTECT, related_name="usage_records")
    seconds = models.DecimalField(max_digits=12, decimal_places=3)
    # The price in force when it ran: later price changes do not rewrite history.
    price_per_second = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    currency = models.CharField(max_length=3, default="USD")
    # A prediction answered from the prediction cache is billed nothing (seconds and amount 0);
    # these are what running it again would have cost: the earlier prediction's seconds, at
    # today's price.
    # (Defaults in the database too: the worker's one-statement charge inserts without them.)
    saved_seconds = models.DecimalField(max_digits=12, decimal_places=3, db_default=Decimal(0))
    saved_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, db_default=Decimal(0)
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"], name="usage_account_month")]

    def __str__(self) -> str:
        return f"{self.prediction_id}: {self.amount} {self.currency}"


class CreditGrant(models.Model):
    """Prepaid credit added to an account by staff: the ledger behind `Account.credit`."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="credit_grants")
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    note = models.CharField(max_length=200, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.account}: +{self.amount}"


class DisabledModel(models.Model):
    """An operator's stop on a model: while this row exists it takes no new predictions.

    Kept beside the other operator controls (prices, limits) rather than as a column on the
    model, so the switch carries when and why it was pulled."""

    model = models.OneToOneField("inference.Model", on_delete=models.CASCADE, related_name="disabled")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.model} disabled"


class DisabledVersion(models.Model):
    """Like `DisabledModel`, for one version of a model."""

    version = models.OneToOneField("inference.Version", on_delete=models.CASCADE, related_name="disabled")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.version} disabled"
