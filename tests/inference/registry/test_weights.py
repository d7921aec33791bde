"""cog.yaml `weights:` at push: each entry checked, naming it when refused; the bytes of every
source fetched (URLs through the outbound guard) and their digest recorded on the version; and
on a worker, put at their targets in the unpacked project, checked against that digest."""

import hashlib
import shutil
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from inference.files import storage
from inference.models import Model, Version
from inference.registry import weights
from inference.registry.packaging import PackageError, read_cog_config
from tests.conftest import FIXTURE_MODELS
from tests.local_http import file_host

PREDICT_PY = (FIXTURE_MODELS / "weights" / "predict.py").read_text()
URL_BYTES = b"weights served over http\n"
UPLOADED = b"weights uploaded to POST /v1/files\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def weights_dir(settings, tmp_path) -> Path:
    """This test's cache of fetched weights; loopback stands for the internet."""
    settings.WEIGHTS_DIR = tmp_path / "weights-cache"
    settings.WEIGHTS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.RUNTIME_DIR = tmp_path / "runtime"
    return settings.WEIGHTS_DIR


@pytest.fixture
def server():
    with file_host({"/w.bin": URL_BYTES}) as host:
        yield host


def project(tmp_path: Path, weights_yaml: str, name: str = "m") -> Path:
    """The weights fixture model with `weights_yaml` as its cog.yaml `weights:` section."""
    directory = tmp_path / name
    shutil.copytree(FIXTURE_MODELS / "weights", directory)
    (directory / "cog.yaml").write_text('predict: "predict.py:Predictor"\nweights:\n' + weights_yaml)
    return directory


def push(directory: Path, ref: str = "alice/w") -> Version:
    out = StringIO()
    call_command("push", str(directory), ref, stdout=out, stderr=StringIO())
    return Version.objects.get(sha256=out.getvalue().strip().rsplit(":", 1)[1])


def upload(persona, data: bytes = UPLOADED):
    return storage.upload_create(
        account=persona.account,
        content=ContentFile(data),
        name="w.bin",
        content_type="application/octet-stream",
        metadata={},
    )


# --- What cog.yaml may say ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ("weights: {name: w, source: weights/tiny.txt, target: w}\n", "must be a list"),
        ("weights:\n  - weights/tiny.txt\n", "entry 1 must be a mapping"),
        ("weights:\n  - source: weights/tiny.txt\n    target: w\n", "entry 1 needs a name"),
        (
            "weights:\n  - {name: w, source: weights/tiny.txt, target: w, mount: ro}\n",
            "'w' has keys Hearth does not know: mount",
        ),
        ("weights:\n  - {name: w, target: w}\n", "'w' needs a source"),
        (
            "weights:\n  - {name: hub, source: 'hf://org/model', target: w}\n",
            "'hub': source scheme hf:// is not supported",
        ),
        (
            "weights:\n  - {name: s3, source: 's3://bucket/w.bin', target: w}\n",
            "'s3': source scheme s3:// is not supported",
        ),
        (
            "weights:\n  - {name: w, source: {uri: bundled, include: ['*.txt']}, target: w}\n",
            "source include is not supported",
        ),
        (
            "weights:\n  - {name: w, source: 'hearth://files/nope', target: w}\n",
            "not of the form hearth://files/<file id>",
        ),
        ("weights:\n  - {name: w, source: missing.bin, target: w}\n", "'w': source missing.bin is not in the package"),
        ("weights:\n  - {name: w, source: ../outside.bin, target: w}\n", "climbs out of the project"),
        ("weights:\n  - {name: w, source: weights/tiny.txt}\n", "'w': target is missing"),
        (
            "weights:\n  - {name: w, source: weights/tiny.txt, target: /models/w}\n",
            "target /models/w is outside the project",
        ),
        ("weights:\n  - {name: w, source: weights/tiny.txt, target: ../w}\n", "climbs out of the project"),
        ("weights:\n  - {name: w, source: weights/tiny.txt, target: /src}\n", "the project root itself"),
        ("weights:\n  - {name: w, source: weights/tiny.txt, target: /src/predict.py}\n", "already in the package"),
        ("weights:\n  - {name: w, source: weights/tiny.txt, target: bundled}\n", "already in the package"),
        ("weights:\n  - {name: w, source: bundled, target: weights/tiny.txt/x}\n", "already in the package"),
        (
            "weights:\n  - {name: a, source: weights/tiny.txt, target: w}\n  - {name: a, source: weights/tiny.txt, target: v}\n",
            "two entries are named 'a'",
        ),
        (
            "weights:\n  - {name: a, source: weights/tiny.txt, target: w}\n  - {name: b, source: weights/tiny.txt, target: w/x}\n",
            "'b': its target /src/w/x overlaps the target /src/w of 'a'",
        ),
        ("weights:\n  - {name: w, source: weights/tiny.txt, target: w, sha256: abc}\n", "64 hexadecimal digits"),
        (f"weights:\n  - {{name: w, source: weights/tiny.txt, target: w, sha256: {'1' * 64}}}\n", "quoted string"),
        (f"weights:\n  - {{name: w, source: bundled, target: w, sha256: '{'0' * 64}'}}\n", "bundled is a directory"),
    ],
)
def test_a_malformed_weights_section_is_refused_naming_the_entry(tmp_path, section, reason):
    directory = project(tmp_path, "")
    (directory / "cog.yaml").write_text('predict: "predict.py:Predictor"\n' + section)
    with pytest.raises(PackageError, match=reason) as refused:
        read_cog_config(directory)
    assert refused.value.field == "weights"


def test_the_sources_are_told_apart_and_targets_are_paths_in_the_project(tmp_path):
    file_id = "a" * 26
    directory = project(
        tmp_path,
        "  - {name: bundled, source: {uri: bundled}, target: /src/bundled}\n"
        "  - {name: tiny, source: ./weights/tiny.txt, target: loaded/tiny.txt}\n"
        "  - {name: web, source: 'https://example.com/w.bin', target: /src/loaded/web.bin}\n"
        f"  - {{name: mine, source: 'hearth://files/{file_id}', target: loaded/mine.bin}}\n"
        f"  - {{name: url-of-mine, source: 'https://hearth.example.com/v1/files/{file_id}', target: loaded/again.bin}}\n",
    )
    specs = read_cog_config(directory).weights
    assert [(s.name, s.kind, s.location, s.target) for s in specs] == [
        ("bundled", "package", "bundled", "bundled"),
        ("tiny", "package", "weights/tiny.txt", "loaded/tiny.txt"),
        ("web", "url", "https://example.com/w.bin", "loaded/web.bin"),
        ("mine", "file", file_id, "loaded/mine.bin"),
        ("url-of-mine", "file", file_id, "loaded/again.bin"),
    ]


# --- At push ------------------------------------------------------------------------------------


def test_push_records_every_weight_with_its_digest_and_size(alice, tmp_path, server):
    uploaded = upload(alice)
    directory = project(
        tmp_path,
        "  - {name: bundled, source: {uri: bundled}, target: /src/bundled}\n"
        "  - {name: tiny, source: weights/tiny.txt, target: /src/loaded/from-package.txt}\n"
        f"  - {{name: web, source: '{server.url}/w.bin', target: loaded/from-url.txt}}\n"
        f"  - {{name: mine, source: 'hearth://files/{uploaded.id}', target: loaded/from-upload.txt}}\n",
    )
    version = push(directory)
    tiny = (directory / "weights" / "tiny.txt").read_bytes()
    recorded = {record["name"]: record for record in version.config["weights"]}
    assert recorded["tiny"] == {
        "name": "tiny",
        "source": "weights/tiny.txt",
        "kind": "package",
        "path": "weights/tiny.txt",
        "target": "loaded/from-package.txt",
        "sha256": sha256(tiny),
        "size": len(tiny),
    }
    assert recorded["bundled"]["target"] == "bundled" and recorded["bundled"]["size"] == len(b"bundled a\nbundled b\n")
    assert recorded["web"] == {
        "name": "web",
        "source": f"{server.url}/w.bin",
        "kind": "url",
        "url": f"{server.url}/w.bin",
        "target": "loaded/from-url.txt",
        "sha256": sha256(URL_BYTES),
        "size": len(URL_BYTES),
    }
    assert recorded["mine"] == {
        "name": "mine",
        "source": f"hearth://files/{uploaded.id}",
        "kind": "file",
        "file": uploaded.id,
        "object": f"weights/{sha256(UPLOADED)}",
        "target": "loaded/from-upload.txt",
        "sha256": sha256(UPLOADED),
        "size": len(UPLOADED),
    }
    # Uploads expire; the version's copy does not.
    with default_storage.open(f"weights/{sha256(UPLOADED)}") as copy:
        assert copy.read() == UPLOADED
    assert "Weights web: 25 bytes" in version.build_log
    # Fetched once here, into this machine's cache, read-only.
    cached = Path(weights.fetch(recorded["web"]))
    assert cached.read_bytes() == URL_BYTES and not cached.stat().st_mode & 0o222
    assert server.requests == ["/w.bin"]


def test_the_same_package_with_other_bytes_at_its_url_is_another_version(alice, tmp_path, server):
    directory = project(tmp_path, f"  - {{name: web, source: '{server.url}/w.bin', target: loaded/w.bin}}\n")
    first = push(directory)
    assert push(directory) == first  # the same bytes: the same version
    server.files["/w.bin"] = b"retrained\n"
    second = push(directory)
    assert second != first and second.config["weights"][0]["sha256"] == sha256(b"retrained\n")
    assert Model.objects.get(name="w").latest_version == second


def test_a_declared_digest_that_is_cached_is_not_fetched_again(alice, tmp_path, server):
    declared = sha256(URL_BYTES)
    directory = project(
        tmp_path, f"  - {{name: web, source: '{server.url}/w.bin', target: loaded/w.bin, sha256: '{declared}'}}\n"
    )
    push(directory)
    push(directory)
    assert server.requests == ["/w.bin"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{name: gone, source: '{url}/missing.bin', target: w}",
            "entry 'gone': {url}/missing.bin: fetching it answered HTTP 404",
        ),
        (
            "{name: pinned, source: '{url}/w.bin', target: w, sha256: '" + "0" * 64 + "'}",
            "entry 'pinned': {url}/w.bin has sha256 " + sha256(URL_BYTES) + ", not the declared " + "0" * 64,
        ),
        (
            "{name: pinned, source: weights/tiny.txt, target: w, sha256: '" + "0" * 64 + "'}",
            "entry 'pinned': weights/tiny.txt has sha256 .*, not the declared " + "0" * 64,
        ),
    ],
)
def test_weights_that_cannot_be_had_refuse_the_push(alice, tmp_path, server, entry, message):
    directory = project(tmp_path, "  - " + entry.replace("{url}", server.url) + "\n")
    with pytest.raises(CommandError, match=message.replace("{url}", server.url)):
        push(directory)
    assert not Version.objects.exists()


def test_a_url_on_a_private_network_is_refused_unless_allowed(alice, tmp_path, server, settings):
    settings.WEIGHTS_ALLOWED_NETWORKS = []
    directory = project(tmp_path, f"  - {{name: web, source: '{server.url}/w.bin', target: w}}\n")
    with pytest.raises(CommandError, match="entry 'web': .*resolves to a private, loopback or link-local address"):
        push(directory)
    assert server.requests == []


def test_only_the_owners_own_uploads_may_be_named(alice, bob, tmp_path):
    bobs = upload(bob)
    directory = project(
        tmp_path, f"  - {{name: theirs, source: 'http://127.0.0.1:8000/v1/files/{bobs.id}', target: w}}\n"
    )
    with pytest.raises(CommandError, match="entry 'theirs': .* names none of alice's uploaded files"):
        push(directory)


# --- On a worker --------------------------------------------------------------------------------


def test_a_worker_puts_each_weight_at_its_target_read_only(alice, tmp_path, server, weights_dir):
    from inference.worker import execution

    uploaded = upload(alice)
    directory = project(
        tmp_path,
        "  - {name: bundled, source: {uri: bundled}, target: /src/bundled}\n"
        "  - {name: tiny, source: weights/tiny.txt, target: /src/loaded/from-package.txt}\n"
        f"  - {{name: web, source: '{server.url}/w.bin', target: loaded/from-url.txt}}\n"
        f"  - {{name: mine, source: 'hearth://files/{uploaded.id}', target: loaded/deeper/from-upload.txt}}\n",
    )
    version = push(directory)
    storage.file_delete(file=uploaded)  # the upload is gone; the version's copy stays
    shutil.rmtree(weights_dir)  # another machine: nothing fetched there yet
    unpacked = execution._package_dir(version)
    assert (unpacked / "loaded" / "from-package.txt").read_bytes() == (directory / "weights" / "tiny.txt").read_bytes()
    assert (unpacked / "loaded" / "from-url.txt").read_bytes() == URL_BYTES
    assert (unpacked / "loaded" / "deeper" / "from-upload.txt").read_bytes() == UPLOADED
    assert (unpacked / "bundled" / "nested" / "b.txt").read_text() == "bundled b\n"
    for path in ("loaded/from-package.txt", "loaded/from-url.txt", "loaded/deeper/from-upload.txt", "bundled/a.txt"):
        assert not (unpacked / path).stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    assert sorted(path.name for path in weights_dir.iterdir() if not path.name.startswith(".")) == sorted(
        [sha256(URL_BYTES), sha256(UPLOADED)]
    )
    assert server.requests == ["/w.bin", "/w.bin"]  # at push, and once on this "machine"
    assert execution._package_dir(version) == unpacked
    assert server.requests == ["/w.bin", "/w.bin"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda files: files.update({"/w.bin": b"tampered\n"}),
            "the bytes of {url}/w.bin have sha256 .*, not .* as recorded at push; the source has changed since",
        ),
        (lambda files: files.clear(), "{url}/w.bin: fetching it answered HTTP 404"),
    ],
)
def test_weights_a_worker_cannot_have_leave_no_unpacked_project(alice, tmp_path, server, weights_dir, change, message):
    from inference.worker import execution

    version = push(project(tmp_path, f"  - {{name: web, source: '{server.url}/w.bin', target: w.bin}}\n"))
    shutil.rmtree(weights_dir)
    change(server.files)
    with pytest.raises(weights.WeightsError, match="weights 'web': " + message.replace("{url}", server.url)):
        execution._package_dir(version)
    versions = Path(execution.settings.RUNTIME_DIR) / "versions"
    assert [path.name for path in versions.iterdir()] == []  # the next prediction tries again
    assert [path for path in weights_dir.iterdir() if not path.name.startswith(".")] == []  # nothing half-fetched
