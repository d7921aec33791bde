import hashlib
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import AsyncClient, Client
from django.utils import timezone

from inference.files import storage
from inference.models import File

BOUNDARY = "hearthboundary"


def upload(api, persona, content=b"hello files", name="hello.txt", content_type="text/plain", **fields):
    data = {"content": SimpleUploadedFile(name, content, content_type=content_type), **fields}
    return api.post("/v1/files", data=data, **persona.auth)


def multipart(*parts: bytes) -> bytes:
    return b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + BOUNDARY.encode() + b"--\r\n"
    )


def content_part(data=b"abc", filename=b"a.txt") -> bytes:
    return (
        b'Content-Disposition: form-data; name="content"; filename="' + filename + b'"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + data
    )


def test_an_upload_answers_every_field_the_client_needs(api, alice):
    response = upload(api, alice, metadata=json.dumps({"purpose": "test"}))
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "hello.txt" and body["content_type"] == "text/plain" and body["size"] == 11
    assert body["checksums"] == {
        "sha256": hashlib.sha256(b"hello files").hexdigest(),
        "md5": hashlib.md5(b"hello files").hexdigest(),
    }
    assert body["etag"] == body["checksums"]["md5"]
    assert body["metadata"] == {"purpose": "test"}
    assert body["urls"] == {"get": f"http://testserver/v1/files/{body['id']}"}
    assert body["created_at"].endswith("Z") and body["expires_at"] > body["created_at"]
    assert File.objects.get(pk=body["id"]).content.read() == b"hello files"


def test_metadata_may_come_as_a_json_file_part_as_the_js_client_sends_it(api, alice):
    metadata = SimpleUploadedFile("blob", b'{"from": "js"}', content_type="application/json")
    response = upload(api, alice, metadata=metadata)
    assert response.status_code == 201 and response.json()["metadata"] == {"from": "js"}


def test_names_are_kept_but_cannot_act_as_paths(api, alice):
    body = upload(api, alice, name="../../etc/my photo.JPG", content_type="").json()
    assert body["name"] == "my photo.JPG" and body["content_type"] == "image/jpeg"
    stored = File.objects.get(pk=body["id"]).content.name
    assert stored.startswith(f"files/{body['id']}/") and ".." not in stored


def test_the_filename_and_type_form_fields_override_the_parts_headers(api, alice):
    body = upload(api, alice, filename="report.pdf", type="application/pdf").json()
    assert (body["name"], body["content_type"]) == ("report.pdf", "application/pdf")


def test_a_file_over_the_limit_is_413_and_stores_nothing(api, alice, settings):
    settings.FILE_MAX_BYTES = 10
    response = upload(api, alice, content=b"x" * 11)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Files must be less than 10 bytes in size"
    assert upload(api, alice, content=b"x" * 10).status_code == 201
    assert File.objects.count() == 1


def test_a_declared_length_far_over_the_limit_is_413_before_parsing(api, alice, settings):
    settings.FILE_MAX_BYTES = 10
    body = multipart(content_part(b"small"))
    response = api.generic(
        "POST",
        "/v1/files",
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(100 * 1024**2),
        **alice.auth,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("content_type", "body", "field"),
    [
        ("application/json", b'{"content": "abc"}', "body"),
        ("multipart/form-data", multipart(content_part()), "body"),  # no boundary
        (f"multipart/form-data; boundary={BOUNDARY}", b"", "content"),
        (f"multipart/form-data; boundary={BOUNDARY}", b"garbage without boundaries", "content"),
        (f"multipart/form-data; boundary={BOUNDARY}", multipart(content_part())[:-20], "content"),  # truncated
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(b'Content-Disposition: form-data; name="content"\r\n\r\nnot a file part'),
            "content",
        ),
        (f"multipart/form-data; boundary={BOUNDARY}", multipart(content_part(), content_part()), "content"),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(content_part(), b'Content-Disposition: form-data; name="metadata"\r\n\r\n{not json'),
            "metadata",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(content_part(), b'Content-Disposition: form-data; name="metadata"\r\n\r\n[1, 2]'),
            "metadata",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(content_part(), b'Content-Disposition: form-data; name="metadata"\r\n\r\n{"a": NaN}'),
            "metadata",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(content_part(), b'Content-Disposition: form-data; name="metadata"\r\n\r\n{"a": "\\u0000"}'),
            "metadata",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(
                b"Content-Disposition: form-data; name=\"content\"; filename*=NOSUCHCHARSET''a%41.txt\r\n\r\nabc"
            ),
            "content",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(*[b'Content-Disposition: form-data; name="f%d"\r\n\r\nx' % i for i in range(1100)]),
            "body",
        ),
        (f"multipart/form-data; boundary={BOUNDARY}", multipart(b"no headers at all"), "content"),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(content_part(filename=b"\xff\xfe.txt"))[:-3],
            "content",
        ),
    ],
    ids=[
        "json",
        "no-boundary",
        "empty",
        "garbage",
        "truncated",
        "text-content",
        "two-contents",
        "metadata-not-json",
        "metadata-array",
        "metadata-nan",
        "metadata-nul",
        "bad-charset",
        "too-many-fields",
        "headerless",
        "bad-bytes-truncated",
    ],
)
def test_malformed_uploads_are_problems_naming_the_field_and_store_nothing(api, alice, content_type, body, field):
    response = api.generic("POST", "/v1/files", body, content_type=content_type, **alice.auth)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["invalid_fields"][0]["field"] == field
    assert not File.objects.exists()


def test_get_list_and_delete(api, alice):
    first, second = upload(api, alice).json(), upload(api, alice, name="b.txt").json()
    assert api.get(f"/v1/files/{first['id']}", **alice.auth).json() == first
    assert [f["id"] for f in api.get("/v1/files", **alice.auth).json()["results"]] == [second["id"], first["id"]]
    assert api.delete(f"/v1/files/{first['id']}", **alice.auth).status_code == 204
    assert api.get(f"/v1/files/{first['id']}", **alice.auth).status_code == 404
    assert list(File.objects.values_list("pk", flat=True)) == [second["id"]]


def test_another_tenants_file_is_not_found_and_unchanged(api, alice, bob):
    file = upload(api, alice).json()
    assert api.get(f"/v1/files/{file['id']}", **bob.auth).status_code == 404
    response = api.delete(f"/v1/files/{file['id']}", **bob.auth)
    assert response.status_code == 404 and response.json()["detail"] == "File not found"
    assert api.get("/v1/files", **bob.auth).json()["results"] == []
    assert api.get(f"/v1/files/{file['id']}", **alice.auth).json() == file
    assert File.objects.get(pk=file["id"]).content.read() == b"hello files"


@pytest.mark.parametrize("path", ["/v1/files/%00", "/v1/files/x", "/v1/files/" + "A" * 26])
def test_ids_that_cannot_exist_are_not_found(api, alice, path):
    assert api.get(path, **alice.auth).status_code == 404
    assert api.delete(path, **alice.auth).status_code == 404


def test_the_files_api_needs_a_token(api):
    assert api.get("/v1/files").status_code == 401
    assert api.post("/v1/files", data={"content": SimpleUploadedFile("a.txt", b"a")}).status_code == 401


def _link(file_id: str, expires_in: float) -> str:
    file = File.objects.get(pk=file_id)
    return storage.download_url(file, origin="", expires_at=timezone.now() + timedelta(seconds=expires_in))


@pytest.fixture
async def close_sync_thread_connections():
    """asgiref runs the sync code of async tests in a worker thread whose database connection
    would otherwise stay open and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


async def _get(url: str, **headers):
    response = await AsyncClient().get(url, **headers)
    content = b"".join([chunk async for chunk in response.streaming_content]) if response.streaming else b""
    return response, content


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_capability_url_serves_the_bytes_without_a_token(alice, close_sync_thread_connections):
    file_id = (await sync_to_async(upload)(Client(), alice, name="page.html", content_type="text/html")).json()["id"]
    link = await sync_to_async(_link)(file_id, 60)
    response, content = await _get(link)
    assert response.status_code == 200 and content == b"hello files"
    assert response["Content-Type"] == "text/html" and response["Content-Length"] == "11"
    assert response["Content-Security-Policy"].startswith("sandbox")  # HTML cannot script our origin
    response, content = await _get(link, HTTP_AUTHORIZATION="Bearer r8_not_a_real_token")
    assert response.status_code == 200 and content == b"hello files"
    head = await AsyncClient().head(link)
    assert head.status_code == 200 and head["Content-Length"] == "11"
    assert (await AsyncClient().post(link)).status_code == 405


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_forged_or_expired_capability_urls_are_not_found(alice, close_sync_thread_connections):
    file_id = (await sync_to_async(upload)(Client(), alice)).json()["id"]
    expired = await sync_to_async(_link)(file_id, -1)
    valid = await sync_to_async(_link)(file_id, 60)
    for url in (
        expired,
        valid.replace("signature=", "signature=0"),
        valid.replace("expiry=", "expiry=9"),
        f"/v1/files/{file_id}/download",
        valid.replace(file_id, "a" * 26),
    ):
        response, _ = await _get(url)
        assert response.status_code == 404, url
