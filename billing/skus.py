"""Replicate's public per-second prices, the catalogue a fresh installation starts with."""

from decimal import Decimal

DEFAULT_SKUS: list[tuple[str, str, Decimal]] = [
    ("cpu", "CPU", Decimal("0.000100")),
    ("gpu-t4", "Nvidia T4 GPU", Decimal("0.000225")),
    ("gpu-l40s", "Nvidia L40S GPU", Decimal("0.000975")),
    ("gpu-l40s-2x", "2x Nvidia L40S GPU", Decimal("0.001950")),
    ("gpu-l40s-4x", "4x Nvidia L40S GPU", Decimal("0.003900")),
    ("gpu-l40s-8x", "8x Nvidia L40S GPU", Decimal("0.007800")),
    ("gpu-a100-large", "Nvidia A100 (80GB) GPU", Decimal("0.001400")),
    ("gpu-a100-large-2x", "2x Nvidia A100 (80GB) GPU", Decimal("0.002800")),
    ("gpu-a100-large-4x", "4x Nvidia A100 (80GB) GPU", Decimal("0.005600")),
    ("gpu-a100-large-8x", "8x Nvidia A100 (80GB) GPU", Decimal("0.011200")),
    ("gpu-h100", "Nvidia H100 GPU", Decimal("0.001525")),
    ("gpu-h100-2x", "2x Nvidia H100 GPU", Decimal("0.003050")),
    ("gpu-h100-4x", "4x Nvidia H100 GPU", Decimal("0.006100")),
    ("gpu-h100-8x", "8x Nvidia H100 GPU", Decimal("0.012200")),
]


def seed_default_hardware(hardware_model) -> None:
    """Create the SKUs that are missing; prices already set by staff are left alone.

    Takes the model class so the data migration can pass its historical model.
    """
    for sku, name, price in DEFAULT_SKUS:
        hardware_model.objects.get_or_create(sku=sku, defaults={"name": name, "price_per_second": price})
