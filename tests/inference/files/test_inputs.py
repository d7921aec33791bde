"""File inputs: refused at creation when they could never be read, materialised by the worker."""

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from inference.files import inputs, storage
from inference.models import File, Model, Prediction, Version
from tests.local_http import QuietHandler, serving

FILE_SCHEMA = {
    "openapi": "3.0.2",
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "title": "Input",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "uri", "title": "File", "x-order": 0},
                    "more": {
                        "type": "array",
                        "items": {"type": "string", "format": "uri"},
                        "title": "More",
                        "x-order": 1,
                    },
                    "caption": {"type": "string", "title": "Caption", "x-order": 2},
                },
            },
            "Output": {"type": "string", "title": "Output"},
        }
    },
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture
def file_version(alice, cpu) -> Version:
    model = Model.objects.create(owner=alice.account, name="files", hardware=cpu, visibility="public")
    version = Version.objects.create(
        model=model,
        sha256="f" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=FILE_SCHEMA,
        cog_version="0.23.1",
        package="packages/x.tar.gz",
    )
    model.latest_version = version
    model.save()
    return version


def upload_of(persona, data=PNG, name="photo.png") -> File:
    return storage.upload_create(
        account=persona.account, content=ContentFile(data), name=name, content_type="image/png", metadata={}
    )


def create(api, persona, file_input, **more):
    return api.post(
        "/v1/models/alice/files/predictions",
        data=json.dumps({"input": {"file": file_input, **more}}),
        content_type="application/json",
        **persona.auth,
    )


def data_uri(data: bytes, media_type="image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
def server():
    """A file host standing for the internet: /photo.png, a redirect to it, and a body that
    is larger than it says (no Content-Length)."""

    class Handler(QuietHandler):
        def do_GET(self):
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/redirect?to="))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/photos/holiday%20photo.png":
                self.send_response(200)
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)
            elif self.path == "/endless":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"x" * 5000)
            else:
                self.not_found()

    with serving(Handler) as url:
        yield url


def test_own_uploads_data_uris_and_capability_links_are_accepted(api, alice, file_version):
    own = upload_of(alice)
    link = storage.download_url(own, origin="https://elsewhere.example", expires_at=timezone.now() + timedelta(hours=1))
    response = create(api, alice, f"http://testserver/v1/files/{own.id}", more=[data_uri(b"hi"), link])
    assert response.status_code == 201, response.content
    assert Prediction.objects.get().input["more"] == [data_uri(b"hi"), link]  # stored as sent


def test_a_capability_link_works_for_another_tenant(api, alice, bob, file_version):
    link = storage.download_url(upload_of(alice), origin="", expires_at=timezone.now() + timedelta(hours=1))
    assert create(api, bob, f"https://hearth.example{link}").status_code == 201


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("data:", "must be a URL"),
        ("data:image/png;base64", "not a valid data: URI"),
        ("data:image/png;base64,@@@@", "not valid base64"),
        ("data:image/png;base64,abc", "not valid base64"),
        ("data:image/png;base64,aGVsbG8=\n", "not valid base64"),
        ("ftp://example.com/photo.png", "must be an http(s) URL or a data: URI"),
        ("javascript:alert(1)", "must be an http(s) URL or a data: URI"),
        ("file:///etc/passwd", "must be an http(s) URL or a data: URI"),
        ("http://", "must be an http(s) URL"),
        ("http://exa mple.com/x", "does not resolve"),
        ("https://[::1/x", "not a valid URL"),
        ("http://example.com:99999/x", "not a valid URL"),
        ("http://127.0.0.1:8000/photo.png", "private, loopback or link-local"),
        ("http://localhost/photo.png", "private, loopback or link-local"),
        ("http://[::1]/photo.png", "private, loopback or link-local"),
        ("http://10.0.0.1/photo.png", "private, loopback or link-local"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("http://no-such-host.invalid/photo.png", "does not resolve"),
        ("http://testserver/v1/files/aaaaaaaaaaaaaaaaaaaaaaaaaa", "names none of your files"),
        (f"http://testserver/v1/files/{'a' * 26}/download?expiry=1&signature=x", "not valid or has expired"),
        ("http://testserver/v1/files/aaaaaaaaaaaaaaaaaaaaaaaaaa/download", "not valid or has expired"),
        ("/etc/passwd", "must be a URL"),
        ("photo.png", "must be a URL"),
    ],
)
def test_unreadable_file_inputs_are_422_naming_the_input_and_create_nothing(api, alice, file_version, value, reason):
    response = create(api, alice, value)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    field = response.json()["invalid_fields"][0]
    assert field["field"] == "input.file" and reason in field["description"]
    assert not Prediction.objects.exists()


def test_a_nul_character_is_a_400_not_a_database_error(api, alice, file_version):
    response = api.post(
        "/v1/models/alice/files/predictions",
        content_type="application/json",
        **alice.auth,
        data='{"input": {"file": "data:text/plain,a\\u0000b"}}',
    )
    assert response.status_code == 400 and response.json()["invalid_fields"][0]["field"] == "body"
    assert not Prediction.objects.exists()


def test_an_oversized_data_uri_is_422(api, alice, file_version, settings):
    settings.FILE_MAX_BYTES = 100
    response = create(api, alice, data_uri(b"x" * 101))
    assert response.status_code == 422 and "larger than 100 bytes" in response.json()["detail"]


def test_a_body_over_the_json_limit_is_413(api, alice, file_version, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = create(api, alice, data_uri(b"x" * 1000))
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert not Prediction.objects.exists()


def test_another_tenants_upload_is_refused_in_a_list_too(api, alice, bob, file_version):
    alices = upload_of(alice)
    response = create(api, bob, data_uri(b"ok"), more=[f"http://testserver/v1/files/{alices.id}"])
    assert response.status_code == 422
    assert response.json()["invalid_fields"][0]["field"] == "input.more.0"
    assert not Prediction.objects.exists() and File.objects.filter(pk=alices.id).exists()


def prediction_with(persona, version, **input) -> Prediction:
    return Prediction.objects.create(account=persona.account, model=version.model, version=version, input=input)


def test_materialise_gives_each_input_a_local_file_with_its_original_name(
    alice, file_version, tmp_path, server, settings
):
    settings.INPUT_URL_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    own = upload_of(alice, name="photo.png")
    prediction = prediction_with(
        alice,
        file_version,
        caption="kept as is",
        file=f"http://testserver/v1/files/{own.id}",
        more=[
            data_uri(PNG),
            "data:text/plain;name=notes%20v1.txt,hello%20there",
            f"{server}/redirect?to=/photos/holiday%20photo.png",
            f"http://testserver/v1/files/{own.id}",
        ],
    )
    local = inputs.materialise(prediction=prediction, directory=tmp_path)
    assert local["caption"] == "kept as is"
    paths = [Path(local["file"]), *map(Path, local["more"])]
    assert [path.name for path in paths] == [
        "photo.png",
        "more-0.png",
        "notes v1.txt",
        "holiday photo.png",
        "photo.png",
    ]
    assert [path.read_bytes() for path in paths] == [PNG, PNG, b"hello there", PNG, PNG]
    assert all(path.is_relative_to(tmp_path) for path in paths)


@pytest.mark.parametrize(
    ("path", "allowed", "reason"),
    [
        ("/missing.png", ["127.0.0.1/32"], "answered HTTP 404"),
        ("/endless", ["127.0.0.1/32"], "larger than 1000 bytes"),
        ("/photos/holiday%20photo.png", [], "private, loopback or link-local"),
        # Redirects are checked hop by hop: 127.0.0.2 is loopback and not allowed.
        ("/redirect?to=http://127.0.0.2:{port}/photos/holiday%20photo.png", ["127.0.0.1/32"], "private"),
    ],
)
def test_materialise_refuses_what_it_cannot_fetch_safely(
    alice, file_version, tmp_path, server, settings, path, allowed, reason
):
    settings.INPUT_URL_ALLOWED_NETWORKS = allowed
    settings.FILE_MAX_BYTES = 1000
    url = server + path.replace("{port}", server.rsplit(":", 1)[1])
    prediction = prediction_with(alice, file_version, file=url)
    with pytest.raises(inputs.InputFileError) as failed:
        inputs.materialise(prediction=prediction, directory=tmp_path)
    assert failed.value.label == "file" and reason in failed.value.reason


def test_materialise_fails_for_an_upload_deleted_since_creation(alice, file_version, tmp_path):
    own = upload_of(alice)
    prediction = prediction_with(alice, file_version, file=f"http://testserver/v1/files/{own.id}")
    storage.file_delete(file=own)
    with pytest.raises(inputs.InputFileError, match="names none of your files"):
        inputs.materialise(prediction=prediction, directory=tmp_path)
