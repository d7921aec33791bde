import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hosting.settings")

app = Celery("hearth")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Only workers and beat import the task bodies (lazily, at start); producers send by name.
app.autodiscover_tasks(["inference.worker"])
