"""cog.yaml `weights:` on the real worker, through the unmodified client: setup() reads each
weight at its target, from the package, from a URL and from an upload; bytes that are not those
recorded at push fail the prediction with a clear error, and the next prediction tries again.

The pushes fetch URL weights into this machine's cache, which the worker shares (one DATA_DIR):
each test removes what the push fetched, so the worker fetches as on a machine of its own."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from inference.models import Version
from tests.conftest import FIXTURE_MODELS
from tests.live_platform import _push
from tests.local_http import file_host

pytestmark = pytest.mark.e2e

FROM_URL = b"weights from a URL\n"
UPLOADED = b"weights from an upload\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def weight_host():
    """Stands for a weights host on the internet (allowed through WEIGHTS_ALLOWED_NETWORKS)."""
    with file_host() as host:
        yield host


def push_weights_model(django_db_blocker, tmp_path: Path, more_weights: str, ref: str) -> str:
    """The weights fixture model with `more_weights` added to its cog.yaml `weights:`, pushed
    with the management command; its version id. What the push fetched is then removed from
    the cache, so the worker has to fetch it."""
    directory = tmp_path / "model"
    shutil.copytree(FIXTURE_MODELS / "weights", directory)
    with (directory / "cog.yaml").open("a") as cog_yaml:
        cog_yaml.write(more_weights)
    with django_db_blocker.unblock(), override_settings(WEIGHTS_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        version = _push(directory, ref)
        records = Version.objects.get(sha256=version).config["weights"]
    for record in records:
        if record["kind"] != "package":
            (Path(settings.WEIGHTS_DIR) / record["sha256"]).unlink(missing_ok=True)
    return version


def test_setup_reads_weights_from_the_package_a_url_and_an_upload(platform, django_db_blocker, weight_host, tmp_path):
    client = platform.client()
    weight_host.files["/models/w.txt"] = FROM_URL
    (tmp_path / "lora.txt").write_bytes(UPLOADED)
    uploaded = client.files.create(tmp_path / "lora.txt")
    version = push_weights_model(
        django_db_blocker,
        tmp_path,
        f"  - name: web\n    source: {weight_host.url}/models/w.txt\n    target: /src/loaded/from-url.txt\n"
        f"  - name: mine\n    source:\n      uri: {uploaded.urls['get']}\n    target: loaded/from-upload.txt\n",
        "alice/weights",
    )
    client.files.delete(uploaded.id)  # the version keeps its own copy of an upload
    output = client.run(f"alice/weights:{version}", input={})
    assert json.loads(output) == {
        "bundled/a.txt": "bundled a\n",
        "bundled/nested/b.txt": "bundled b\n",
        "loaded/from-package.txt": "tiny weights from the package\n",
        "loaded/from-url.txt": FROM_URL.decode(),
        "loaded/from-upload.txt": UPLOADED.decode(),
    }
    assert weight_host.requests.count("/models/w.txt") == 2  # at push, and once by the worker
    assert (Path(settings.WEIGHTS_DIR) / sha256(UPLOADED)).read_bytes() == UPLOADED  # fetched by the worker
    assert client.run(f"alice/weights:{version}", input={}) == output
    assert weight_host.requests.count("/models/w.txt") == 2  # a warm runner; nothing fetched again


@pytest.mark.parametrize(
    ("case", "served_then", "error"),
    [
        (
            "changed",
            b"weights retrained since\n",
            "Model setup failed: weights 'changing': the bytes of {url}/changed.txt have sha256 "
            + sha256(b"weights retrained since\n")
            + ", not "
            + sha256(FROM_URL)
            + " as recorded at push; the source has changed since",
        ),
        ("gone", None, "Model setup failed: weights 'changing': {url}/gone.txt: fetching it answered HTTP 404"),
    ],
)
def test_weights_the_worker_cannot_have_fail_the_prediction_with_a_clear_error(
    platform, django_db_blocker, weight_host, tmp_path, case, served_then, error
):
    path = f"/{case}.txt"
    weight_host.files[path] = FROM_URL
    version = push_weights_model(
        django_db_blocker,
        tmp_path,
        f"  - name: changing\n    source: {weight_host.url}{path}\n    target: loaded/changing.txt\n",
        f"alice/weights-{case}",
    )
    if served_then is None:
        del weight_host.files[path]
    else:
        weight_host.files[path] = served_then
    client = platform.client()
    prediction = client.predictions.create(version=version, input={})
    prediction.wait()
    assert prediction.status == "failed"
    assert prediction.error == error.format(url=weight_host.url)
    assert prediction.error.removeprefix("Model setup failed: ") in prediction.logs
    # The bytes recorded at push are served again: the next prediction fetches and runs.
    weight_host.files[path] = FROM_URL
    assert (
        json.loads(client.run(f"alice/weights-{case}:{version}", input={}))["loaded/changing.txt"] == FROM_URL.decode()
    )
