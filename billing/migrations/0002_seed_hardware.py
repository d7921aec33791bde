from django.db import migrations


def seed_hardware(apps, schema_editor):
    from billing.skus import seed_default_hardware

    seed_default_hardware(apps.get_model("billing", "Hardware"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed_hardware, migrations.RunPython.noop)]
