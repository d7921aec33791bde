from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0010_deployments"),
    ]

    operations = [
        migrations.AddField(
            model_name="model",
            name="openai_api",
            field=models.CharField(
                blank=True,
                choices=[("", "none"), ("chat", "chat and completions"), ("embeddings", "embeddings")],
                default="",
                max_length=16,
            ),
        ),
    ]
