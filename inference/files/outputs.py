"""Storing the files a prediction returns (ARCHITECTURE §5): the runner copies each one into
the prediction's output directory and reports its path (`runtime.child_values.OutputFiles`);
here each path becomes a stored `File` and its capability URL, before the output is published.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from inference.files import storage
from inference.models import File, Prediction
from inference.representations import public_origin


class OutputFileError(Exception):
    pass


class OutputFiles:
    def __init__(self, prediction: Prediction, directory: Path) -> None:
        self.prediction = prediction
        self.directory = directory.resolve()

    def store(self, value: Any) -> Any:
        """`value` with every output file path replaced by its URL."""
        if isinstance(value, str) and value.startswith(f"{self.directory}/"):
            return self._store_file(Path(value))
        if isinstance(value, list):
            return [self.store(item) for item in value]
        if isinstance(value, dict):
            return {key: self.store(item) for key, item in value.items()}
        return value

    def _store_file(self, path: Path) -> str:
        # Only plain files the runner put in the directory: a path that leads elsewhere is
        # not an output file, whatever the string says.
        if path.is_symlink() or not path.resolve().is_relative_to(self.directory) or not path.is_file():
            raise OutputFileError(f"the runner reported an output file that is not there: {path.name}")
        name = storage.safe_filename(path.name, "output")  # a newline in a name would break headers
        now = timezone.now()
        if self.prediction.source == Prediction.Source.API:
            # Removed with the prediction's data; the URL lasts exactly as long.
            expires_at = url_expiry = now + timedelta(seconds=settings.PREDICTION_DATA_RETENTION_SECONDS)
        else:
            expires_at, url_expiry = None, now + timedelta(seconds=settings.OUTPUT_URL_SECONDS)
        try:
            with path.open("rb") as content:
                file = storage.file_create(
                    account=self.prediction.account,
                    prediction=self.prediction,
                    kind=File.Kind.OUTPUT,
                    content=content,
                    name=name,
                    content_type=storage.content_type_for(name),
                    expires_at=expires_at,
                )
        except Exception as exc:  # any storage backend's failure: the prediction fails, the worker lives
            raise OutputFileError(f"could not store output file {name}: {exc}") from exc
        return storage.download_url(file, origin=public_origin(), expires_at=url_expiry)
