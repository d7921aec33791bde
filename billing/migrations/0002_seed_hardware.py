from django.db import migrations


def seed_hardware(apps, schema_editor):
    from billing.skus import DEFAULT_SKUS

    Hardware = apps.get_model("billing", "Hardware")
    for sku, name, price in DEFAULT_SKUS:
        Hardware.objects.get_or_create(sku=sku, defaults={"name": name, "price_per_second": price})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed_hardware, migrations.RunPython.noop)]
