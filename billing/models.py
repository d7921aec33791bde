from django.db import models

# Per-second rates need more places than the currency has; charges are rounded separately.
RATE_MAX_DIGITS = 12
RATE_DECIMAL_PLACES = 8


class Hardware(models.Model):
    """A hardware SKU: the queue a model's predictions run on, and its price per second."""

    sku = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    price_per_second = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    currency = models.CharField(max_length=3, default="USD")

    class Meta:
        ordering = ["price_per_second", "sku"]
        verbose_name_plural = "hardware"

    def __str__(self) -> str:
        return self.sku
