"""Retention (replicate-api.md §5.1 `data_removed`): the inputs, outputs, output files and
logs of API predictions are removed PREDICTION_DATA_RETENTION_SECONDS after they finish, as
Replicate does after an hour; web predictions are kept. Uploads go when they expire."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from inference.files import storage
from inference.models import File, Prediction

# Rows handled per query, so one run never loads an unbounded backlog into memory.
BATCH_SIZE = 500


def remove_expired_data() -> dict[str, int]:
    """One pass; safe to run concurrently with itself and with running predictions (only
    finished API predictions are touched). Returns how many predictions and files it removed."""
    cutoff = timezone.now() - timedelta(seconds=settings.PREDICTION_DATA_RETENTION_SECONDS)
    removed = {"predictions": 0, "files": 0}
    while True:
        ids = list(
            Prediction.objects.filter(
                source=Prediction.Source.API,
                status__in=Prediction.TERMINAL_STATUSES,
                completed_at__lt=cutoff,
                data_removed=False,
            ).values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            break
        removed["files"] += _delete_files(File.objects.filter(prediction_id__in=ids))
        removed["predictions"] += Prediction.objects.filter(pk__in=ids, data_removed=False).update(
            input={}, output=None, logs="", data_removed=True
        )
    removed["files"] += _delete_files(File.objects.filter(Q(expires_at__lt=timezone.now())))
    return removed


def _delete_files(queryset) -> int:
    count = 0
    while batch := list(queryset[:BATCH_SIZE]):
        for file in batch:
            storage.file_delete(file=file)
        count += len(batch)
    return count
