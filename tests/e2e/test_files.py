"""Files with the unmodified client: uploads, file inputs of every kind, output files read back
byte for byte, another tenant's files, the size limit and retention, on the real processes."""

import hashlib
import io
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from replicate.exceptions import ReplicateError
from replicate.helpers import FileOutput

from inference import enqueue
from inference.models import File, Prediction
from tests.live_platform import E2E_FILE_MAX_BYTES
from tests.local_http import QuietHandler, serving

pytestmark = pytest.mark.e2e

PICTURE = bytes(range(256)) * 40 + b"\x00end"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def picture(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(PICTURE)
    return path


@pytest.fixture(scope="module")
def external_server():
    """Stands for a file host on the internet (allowed through INPUT_URL_ALLOWED_NETWORKS)."""

    class Handler(QuietHandler):
        def do_GET(self):
            if self.path == "/pictures/cat%20photo.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PICTURE)))
                self.end_headers()
                self.wfile.write(PICTURE)
            else:
                self.not_found()

    with serving(Handler) as url:
        yield url


def test_upload_get_list_and_delete(platform, picture):
    client = platform.client()
    file = client.files.create(picture, metadata={"album": "holidays"})
    assert (file.name, file.content_type, file.size) == ("photo.jpg", "image/jpeg", len(PICTURE))
    assert file.checksums["sha256"] == sha256(PICTURE) and file.etag == hashlib.md5(PICTURE).hexdigest()
    assert file.metadata == {"album": "holidays"}
    assert file.urls["get"] == f"{platform.url}/v1/files/{file.id}" and file.expires_at
    assert client.files.get(file.id).checksums == file.checksums
    assert file.id in [listed.id for listed in client.files.list()]
    assert client.files.delete(file.id) is True
    with pytest.raises(ReplicateError) as missing:
        client.files.get(file.id)
    assert missing.value.status == 404


def test_an_open_file_in_the_input_reaches_the_predictor_with_its_name_and_bytes(platform, picture, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "photo.jpg").write_bytes(b"a different photo")
    client = platform.client()
    with open(picture, "rb") as first, open(other / "photo.jpg", "rb") as second:
        output = client.run("alice/files", input={"file": first, "more": [second, picture]})
    assert output["names"] == ["photo.jpg", "photo.jpg", "photo.jpg"]
    assert output["sha256"] == [sha256(PICTURE), sha256(b"a different photo"), sha256(PICTURE)]
    # Plain http here, so the client leaves the URL a string; FileOutput reads it as it would https.
    assert output["reversed"].startswith(f"{platform.url}/v1/files/")
    assert FileOutput(output["reversed"], client).read() == PICTURE[::-1]


def test_the_worker_removes_a_predictions_local_input_and_output_files_when_it_ends(platform, picture):
    scratch = Path(settings.PREDICTION_SCRATCH_DIR)  # the worker's: the test settings are the same

    def left_behind() -> set[Path]:
        return set(scratch.iterdir()) if scratch.is_dir() else set()

    earlier = left_behind()
    output = platform.client().run("alice/files", input={"file": picture})
    assert output["sha256"] == [sha256(PICTURE)]  # its input was copied there, its output written there
    deadline = time.monotonic() + 5  # removed just after `done`, which answered the client
    while left_behind() - earlier and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left_behind() - earlier == set()


def test_a_data_uri_input(platform, picture):
    prediction = platform.client().predictions.create(
        version=platform.versions["files"], input={"file": picture}, file_encoding_strategy="base64"
    )
    assert prediction.input["file"].startswith("data:image/jpeg;base64,")
    prediction.wait()
    assert prediction.status == "succeeded", prediction.error
    assert prediction.output["names"] == ["file.jpg"]  # a data: URI carries no name
    assert prediction.output["sha256"] == [sha256(PICTURE)]


def test_an_external_url_input(platform, external_server):
    output = platform.client().run("alice/files", input={"file": f"{external_server}/pictures/cat%20photo.png"})
    assert output["names"] == ["cat photo.png"] and output["sha256"] == [sha256(PICTURE)]


def test_an_external_url_that_fails_fails_the_prediction_naming_the_input(platform, external_server):
    prediction = platform.client().predictions.create(
        version=platform.versions["files"], input={"file": f"{external_server}/missing.png"}
    )
    prediction.wait()
    assert prediction.status == "failed"
    assert prediction.error == "Could not read input file: fetching it answered HTTP 404"


def test_output_urls_serve_the_bytes_to_anyone_holding_them(platform, picture):
    output = platform.client().run("alice/files", input={"file": picture})
    url = output["reversed"]
    anonymous = httpx.get(url)  # the JS client and browsers send no token
    assert anonymous.status_code == 200 and anonymous.content == PICTURE[::-1]
    assert anonymous.headers["content-type"] == "image/jpeg"
    assert 'filename="reversed-photo.jpg"' in anonymous.headers["content-disposition"]
    assert "sandbox" in anonymous.headers["content-security-policy"]
    assert FileOutput(url, platform.client(platform.bob)).read() == PICTURE[::-1]  # any token is fine
    assert httpx.get(url.replace("signature=", "signature=x")).status_code == 404


def test_iterator_file_outputs_are_each_stored_as_yielded(platform):
    client = platform.client()
    urls = list(client.run("alice/frames", input={"count": 3}))
    assert [FileOutput(url, client).read() for url in urls] == [b"frame 0", b"frame 1", b"frame 2"]


def test_another_tenants_files_are_not_found_and_stay_unchanged(platform, picture):
    alice, bob = platform.client(), platform.client(platform.bob)
    file = alice.files.create(picture)
    for attempt in (lambda: bob.files.get(file.id), lambda: bob.files.delete(file.id)):
        with pytest.raises(ReplicateError) as refused:
            attempt()
        assert refused.value.status == 404
    assert file.id not in [listed.id for listed in bob.files.list()]
    assert alice.files.get(file.id).checksums == file.checksums
    # alice/files is public: bob may run it, but not on alice's file.
    predictions_before = [p.id for p in bob.predictions.list().results]
    with pytest.raises(ReplicateError) as refused:
        bob.predictions.create(version=platform.versions["files"], input={"file": file.urls["get"]})
    assert refused.value.status == 422
    assert "names none of your files" in refused.value.detail
    assert [p.id for p in bob.predictions.list().results] == predictions_before


def test_uploads_over_the_size_limit_are_413(platform):
    with pytest.raises(ReplicateError) as refused:
        platform.client().files.create(io.BytesIO(b"x" * (E2E_FILE_MAX_BYTES + 1)), filename="big.bin")
    assert refused.value.status == 413
    assert "less than" in refused.value.detail


def test_retention_removes_api_prediction_data_and_expired_uploads(platform, picture, django_db_blocker):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["files"], input={"file": picture})
    prediction.wait()
    upload = client.files.create(picture)
    output_url = prediction.output["reversed"]
    assert httpx.get(output_url).status_code == 200
    with django_db_blocker.unblock():
        Prediction.objects.filter(pk=prediction.id).update(completed_at=timezone.now() - timedelta(hours=2))
        File.objects.filter(pk=upload.id).update(expires_at=timezone.now() - timedelta(seconds=1))
        connections.close_all()
    enqueue.remove_expired_data()  # what beat sends; the real worker runs it
    auth = {"Authorization": f"Bearer {platform.alice.plaintext}"}
    deadline = time.monotonic() + 20
    while not (document := httpx.get(prediction.urls["get"], headers=auth).json())["data_removed"]:
        assert time.monotonic() < deadline, "retention did not run"
        time.sleep(0.1)
    assert (document["input"], document["output"], document["logs"]) == ({}, None, "")
    prediction.reload()  # the client still reads it
    assert (prediction.status, prediction.input, prediction.output) == ("succeeded", {}, None)
    assert httpx.get(output_url).status_code == 404
    with pytest.raises(ReplicateError):
        client.files.get(upload.id)
    with django_db_blocker.unblock():
        assert not File.objects.filter(prediction_id=prediction.id).exists()
        connections.close_all()
