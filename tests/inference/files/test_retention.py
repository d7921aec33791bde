from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from inference.files import storage
from inference.files.retention import remove_expired_data
from inference.models import File, Prediction

LONG_AGO = timedelta(hours=2)


def finished(persona, version, *, source=Prediction.Source.API, ago=LONG_AGO, status=Prediction.Status.SUCCEEDED):
    prediction = Prediction.objects.create(
        account=persona.account,
        model=version.model,
        version=version,
        source=source,
        status=status,
        input={"text": "secret"},
        output="result",
        logs="private logs",
    )
    Prediction.objects.filter(pk=prediction.pk).update(completed_at=timezone.now() - ago)
    return prediction


def output_file(persona, prediction) -> File:
    return storage.file_create(
        account=persona.account,
        prediction=prediction,
        kind=File.Kind.OUTPUT,
        content=ContentFile(b"bytes"),
        name="out.png",
        content_type="image/png",
    )


def test_old_api_predictions_lose_their_data_and_files(alice, echo_version):
    prediction = finished(alice, echo_version)
    stored = output_file(alice, prediction)
    assert remove_expired_data() == {"predictions": 1, "files": 1}
    prediction.refresh_from_db()
    assert (prediction.input, prediction.output, prediction.logs, prediction.data_removed) == ({}, None, "", True)
    assert prediction.status == "succeeded" and prediction.completed_at is not None
    assert not File.objects.exists() and not default_storage.exists(stored.content.name)


@pytest.mark.parametrize(
    "kept",
    [
        {"source": Prediction.Source.WEB},
        {"ago": timedelta(minutes=30)},
        {"status": Prediction.Status.PROCESSING},
    ],
    ids=["web", "recent", "running"],
)
def test_web_recent_and_running_predictions_are_kept(alice, echo_version, kept):
    prediction = finished(alice, echo_version, **kept)
    output_file(alice, prediction)
    assert remove_expired_data() == {"predictions": 0, "files": 0}
    prediction.refresh_from_db()
    assert (prediction.input, prediction.logs, prediction.data_removed) == ({"text": "secret"}, "private logs", False)
    assert File.objects.count() == 1


def test_the_retention_time_is_a_setting(alice, echo_version, settings):
    settings.PREDICTION_DATA_RETENTION_SECONDS = 60
    finished(alice, echo_version, ago=timedelta(minutes=2))
    assert remove_expired_data()["predictions"] == 1


def test_expired_uploads_are_removed_and_others_kept(alice):
    expired = storage.upload_create(
        account=alice.account, content=ContentFile(b"old"), name="old.txt", content_type="text/plain", metadata={}
    )
    fresh = storage.upload_create(
        account=alice.account, content=ContentFile(b"new"), name="new.txt", content_type="text/plain", metadata={}
    )
    File.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert remove_expired_data() == {"predictions": 0, "files": 1}
    assert list(File.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not default_storage.exists(expired.content.name) and default_storage.exists(fresh.content.name)


def test_the_task_is_on_the_beat_schedule(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "inference.remove_expired_data")
    assert entry["schedule"] <= 300
