# The demo catalogue (issue 19): a model's own cover image, its default example and whether it
# runs demo weights; and `aborted`, the status of a prediction whose Cancel-After deadline passed
# before it started. 0010_deployments follows it.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inference", "0008_collection")]

    operations = [
        migrations.AddField(
            model_name="model",
            name="cover_image",
            field=models.FileField(blank=True, upload_to="covers/"),
        ),
        migrations.AddField(
            model_name="model",
            name="default_example",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="inference.prediction",
            ),
        ),
        migrations.AddField(
            model_name="model",
            name="demo_weights",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="prediction",
            name="status",
            field=models.CharField(
                choices=[
                    ("starting", "Starting"),
                    ("processing", "Processing"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("canceled", "Canceled"),
                    ("aborted", "Aborted"),
                ],
                default="starting",
                max_length=16,
            ),
        ),
    ]
