import os
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from replicate.client import Client
from replicate.helpers import FileOutput, transform_output

from inference.files import storage
from inference.files.outputs import OutputFileError, OutputFiles
from inference.models import File, Prediction


@pytest.fixture
def prediction(alice, echo_version) -> Prediction:
    return Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)


def output_path(directory, name="out.png", data=b"png bytes"):
    (directory / "0").mkdir(parents=True)
    path = directory / "0" / name
    path.write_bytes(data)
    return str(path)


def test_output_files_become_capability_urls_that_expire_with_the_data(prediction, tmp_path, settings):
    settings.PUBLIC_BASE_URL = "https://hearth.example.com"
    value = {"image": output_path(tmp_path), "caption": "a cat", "n": 3}
    stored = OutputFiles(prediction, tmp_path).store(value)
    assert stored["caption"] == "a cat" and stored["n"] == 3
    file = File.objects.get()
    assert (file.name, file.content_type, file.kind, file.prediction_id) == (
        "out.png",
        "image/png",
        "output",
        prediction.id,
    )
    assert stored["image"].startswith(f"https://hearth.example.com/v1/files/{file.id}/download/out.png?")
    expiry = int(parse_qs(urlsplit(stored["image"]).query)["expiry"][0])
    assert expiry == int(file.expires_at.timestamp())
    assert 3500 < expiry - timezone.now().timestamp() <= settings.PREDICTION_DATA_RETENTION_SECONDS
    # The client turns https URLs into FileOutput objects.
    assert isinstance(transform_output(stored, Client(api_token="x"))["image"], FileOutput)


def test_web_prediction_outputs_are_kept_with_longer_lived_urls(prediction, tmp_path, settings):
    prediction.source = Prediction.Source.WEB
    url = OutputFiles(prediction, tmp_path).store(output_path(tmp_path))
    assert File.objects.get().expires_at is None
    expiry = int(parse_qs(urlsplit(url).query)["expiry"][0])
    assert expiry - timezone.now().timestamp() > settings.OUTPUT_URL_SECONDS - 60


def test_control_characters_are_dropped_from_output_names(prediction, tmp_path):
    OutputFiles(prediction, tmp_path).store(output_path(tmp_path, name="out\nput.txt"))
    assert (File.objects.get().name, File.objects.get().content_type) == ("output.txt", "text/plain")


def test_a_path_that_leads_outside_the_output_directory_is_refused(prediction, tmp_path):
    outputs = tmp_path / "outputs"
    (outputs / "0").mkdir(parents=True)
    (tmp_path / "secret").write_bytes(b"not an output")
    os.symlink(tmp_path / "secret", outputs / "0" / "link.png")
    store = OutputFiles(prediction, outputs)
    for value in (str(outputs / "0" / "link.png"), f"{outputs}/0/../../secret", f"{outputs}/9/missing.png"):
        with pytest.raises(OutputFileError):
            store.store(value)
    assert not File.objects.exists()
    assert store.store(f"{tmp_path}/secret") == f"{tmp_path}/secret"  # outside: just a string


def test_kept_outputs_can_be_shown_with_renewed_links_to_their_own_files_only(prediction, tmp_path, bob, echo_version):
    url = OutputFiles(prediction, tmp_path).store(output_path(tmp_path))
    expired = url.rsplit("?", 1)[0] + "?expiry=1&signature=old"
    bobs = storage.upload_create(
        account=bob.account, content=ContentFile(b"b"), name="b.txt", content_type="text/plain", metadata={}
    )
    forged = f"http://x/v1/files/{bobs.id}/download/x.png?expiry=1&signature=forged"  # a model may output anything
    prediction.output = {"image": expired, "other": [forged, "text"]}
    renewed = storage.output_with_renewed_urls(prediction, origin="https://hearth.example.com")
    assert renewed["other"] == [forged, "text"]
    query = parse_qs(urlsplit(renewed["image"]).query)
    file = File.objects.get(prediction=prediction)
    assert storage.file_for_download(file_id=file.id, expiry=query["expiry"][0], signature=query["signature"][0])
    assert renewed["image"].startswith("https://hearth.example.com/")
    assert timedelta(seconds=int(query["expiry"][0]) - timezone.now().timestamp()) > timedelta(days=6)
