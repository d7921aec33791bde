import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inference.models import File


def upload(api, persona, content=b"hello files", name="hello.txt", **fields):
    data = {"content": SimpleUploadedFile(name, content, content_type="text/plain"), **fields}
    return api.post("/v1/files", data=data, **persona.auth)


def test_an_upload_answers_every_field_the_client_needs(api, alice):
    response = upload(api, alice, metadata=json.dumps({"purpose": "test"}))
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "hello.txt" and body["content_type"] == "text/plain" and body["size"] == 11
    assert body["checksums"] == {"sha256": hashlib.sha256(b"hello files").hexdigest(),
                                 "md5": hashlib.md5(b"hello files").hexdigest()}
    assert body["etag"] == body["checksums"]["md5"]
    assert body["metadata"] == {"purpose": "test"}
    assert body["urls"] == {"get": f"http://testserver/v1/files/{body['id']}"}
    assert body["created_at"].endswith("Z") and body["expires_at"] > body["created_at"]
    stored = File.objects.get(pk=body["id"])
    assert stored.content.read() == b"hello files"

