"""A corpus of malformed requests against every /v1 endpoint family: each is refused with a 4xx
problem+json (a non-empty title and detail, `status` equal to the HTTP status), never a 5xx,
an empty body or an HTML page, and creates nothing."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from inference.api.predictions import MAX_WAIT_SECONDS, wait_seconds
from inference.models import File, Model, Prediction, Version

VERSION = "a" * 64  # echo_version's id
UNKNOWN_VERSION = {"version": "f" * 64, "input": {"text": "hi"}}
BOUNDARY = "BoUnDaRy"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: bytes | str = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True  # send alice's token (as well as any Authorization in headers)

    def send(self, api, persona):
        extra: dict[str, Any] = {**(persona.auth if self.auth else {}), **self.headers}
        kwargs: dict[str, Any] = {"data": self.body, **extra}
        if self.content_type is not None:
            kwargs["content_type"] = self.content_type
        return api.generic(self.method, self.path, **kwargs)


def _json_body_cases(path: str) -> dict[str, Case]:
    def post(body: bytes | str, content_type: str = "application/json", **headers: str) -> Case:
        return Case("POST", path, body, content_type, headers)

    return {
        "invalid json": post(b'{"version": '),
        "json list": post(b"[]"),
        "json list of objects": post(json.dumps([UNKNOWN_VERSION])),
        "json number": post(b"42"),
        "json string": post(b'"version"'),
        "json null": post(b"null"),
        "json true": post(b"true"),
        "non-utf-8 bytes": post(b'{"version": "\xff\xfe"}'),
        "utf-16 bytes": post(json.dumps(UNKNOWN_VERSION).encode("utf-16")),
        "deeply nested": post(b"[" * 100_000 + b"]" * 100_000),
        "huge integer": post(b'{"input": {"n": ' + b"9" * 5000 + b"}}"),
        "nan": post(b'{"input": {"n": NaN}}'),
        "trailing garbage": post(b'{"version": "x"} trailing'),
        "plain text": post(b"version=abc", "text/plain"),
        "form encoded": post(b"version=abc&input=x", "application/x-www-form-urlencoded"),
        "bogus charset": post(b'{"version": ', "application/json; charset=no-such-charset"),
        # (A negative Content-Length reads as an empty body, `{}`, under the test client.)
        "garbage content length": post(b'{"version": ', CONTENT_LENGTH="abc"),
    }


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + BOUNDARY.encode() + b"--\r\n"
    )


_CONTENT_PART = (
    b'Content-Disposition: form-data; name="content"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi'
)
_MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _files(body: bytes, content_type: str | None = _MULTIPART, **headers: str) -> Case:
    return Case("POST", "/v1/files", body, content_type, headers)


MULTIPART_CASES = {
    "no boundary": _files(_multipart(_CONTENT_PART), "multipart/form-data"),
    "empty boundary": _files(_multipart(_CONTENT_PART), "multipart/form-data; boundary="),
    "non-ascii boundary": _files(_multipart(_CONTENT_PART), "multipart/form-data; boundary=\u00e9t\u00e9"),
    "over-long boundary": _files(_multipart(_CONTENT_PART), "multipart/form-data; boundary=" + "b" * 100),
    "empty body": _files(b""),
    "truncated body": _files(_multipart(_CONTENT_PART)[:40]),
    "no closing boundary": _files(b"--" + BOUNDARY.encode() + b"\r\n" + _CONTENT_PART),
    "wrong boundary in body": _files(_multipart(_CONTENT_PART).replace(BOUNDARY.encode(), b"other")),
    "garbage body": _files(b"\x00\xff" * 500),
    "no content part": _files(_multipart(b'Content-Disposition: form-data; name="filename"\r\n\r\na.txt')),
    "two content parts": _files(_multipart(_CONTENT_PART, _CONTENT_PART)),
    "metadata not json": _files(
        _multipart(_CONTENT_PART, b'Content-Disposition: form-data; name="metadata"\r\n\r\n{nope')
    ),
    "metadata a list": _files(_multipart(_CONTENT_PART, b'Content-Disposition: form-data; name="metadata"\r\n\r\n[]')),
    "json instead of multipart": _files(b'{"content": "hi"}', "application/json"),
    "no content type": _files(_multipart(_CONTENT_PART), ""),
    "garbage content length": _files(_multipart(_CONTENT_PART), CONTENT_LENGTH="abc"),
    "negative content length": _files(_multipart(_CONTENT_PART), CONTENT_LENGTH="-1"),
    "huge content length": _files(_multipart(_CONTENT_PART), CONTENT_LENGTH=str(10**30)),
}

_LONG_GARBAGE = "x" * 5000
CURSOR_CASES = {
    f"{path} cursor {name}": Case("GET", f"{path}?cursor={cursor}")
    for path in ("/v1/predictions", "/v1/files", "/v1/models")
    for name, cursor in {
        "percent signs": "%%%",
        "long garbage": _LONG_GARBAGE,
        "not base64": "!!!***",
        "base64 of garbage": "Z2FyYmFnZQ",
        "base64 of json": "eyJhIjogMX0",
        "non-ascii": "%C3%A9t%C3%A9",
        "nul": "%00",
    }.items()
}

_PREDICT = json.dumps(UNKNOWN_VERSION)
HEADER_CASES = {
    **{
        f"cancel-after {value!r}": Case(
            "POST", "/v1/predictions", _PREDICT, "application/json", {"HTTP_CANCEL_AFTER": value}
        )
        for value in ("soon", "-5s", "0", "1s", "5x", "1e9", "9" * 5000, "99999999999999999999h", "\u00e9")
    },
    **{
        f"prefer {value!r}": Case("POST", "/v1/predictions", _PREDICT, "application/json", {"HTTP_PREFER": value})
        for value in ("wait=abc", "wait=-1", "wait=" + "9" * 5000, "wait=" + "9" * 30, "\u00e9", ";;;,,,")
    },
}

_AUTH_VALUES = {
    "missing": None,
    "bare bearer": "Bearer",
    "bearer and space": "Bearer ",
    "basic": "Basic x",
    "token scheme": "Token r8_abc",
    "non-ascii": "Bearer r8_\u00e9\u00e9",
    "very long": "Bearer " + "r" * 10_000,
    "two tokens": "Bearer a b",
}
_AUTHENTICATED = [
    ("GET", "/v1/account"),
    ("GET", "/v1/account/usage"),
    ("GET", "/v1/hardware"),
    ("GET", "/v1/webhooks/default/secret"),
    ("GET", "/v1/predictions"),
    ("POST", "/v1/predictions"),
    ("GET", "/v1/predictions/abc"),
    ("POST", "/v1/predictions/abc/cancel"),
    ("GET", "/v1/models"),
    ("POST", "/v1/models"),
    ("GET", "/v1/models/alice/echo"),
    ("POST", "/v1/models/alice/echo/predictions"),
    ("GET", "/v1/models/alice/echo/versions"),
    ("POST", "/v1/models/alice/echo/versions"),
    ("GET", f"/v1/models/alice/echo/versions/{VERSION}"),
    ("GET", "/v1/files"),
    ("POST", "/v1/files"),
    ("GET", "/v1/files/abc"),
]
AUTH_CASES = {
    f"{method} {path} auth {name}": Case(
        method,
        path,
        _PREDICT if method == "POST" else b"",
        "application/json" if method == "POST" else None,
        {} if value is None else {"HTTP_AUTHORIZATION": value},
        auth=False,
    )
    for method, path in _AUTHENTICATED
    for name, value in _AUTH_VALUES.items()
}

METHOD_CASES = {
    f"{method} {path}": Case(method, path)
    for method, path in [
        ("BREW", "/v1/predictions"),
        ("PUT", "/v1/predictions"),
        ("DELETE", "/v1/predictions"),
        ("PATCH", "/v1/account"),
        ("POST", "/v1/account/usage"),
        ("DELETE", "/v1/hardware"),
        ("POST", "/v1/webhooks/default/secret"),
        ("PUT", "/v1/predictions/abc"),
        ("GET", "/v1/predictions/abc/cancel"),
        ("POST", "/v1/predictions/abc/stream"),
        ("PUT", "/v1/models"),
        ("BREW", "/v1/models/alice/echo"),
        ("PUT", "/v1/models/alice/echo/predictions"),
        ("DELETE", "/v1/models/alice/echo/versions"),
        ("POST", f"/v1/models/alice/echo/versions/{VERSION}"),
        ("PATCH", "/v1/files"),
        ("POST", "/v1/files/abc"),
        ("POST", "/v1/files/abc/download/a.txt"),
        ("TRACE", "/v1/account"),
    ]
}

PATH_CASES = {
    name: Case("GET", path)
    for name, path in {
        "long prediction id": "/v1/predictions/" + "x" * 10_000,
        "long model name": "/v1/models/alice/" + "n" * 10_000,
        "long version id": "/v1/models/alice/echo/versions/" + "v" * 10_000,
        "long file id": "/v1/files/" + "f" * 10_000,
        "many segments": "/v1/" + "a/" * 3000,
        "unknown endpoint": "/v1/nothing-here",
        "percent-encoded junk": "/v1/predictions/%ff%fe",
        "nul in id": "/v1/predictions/%00",
        "dot segments": "/v1/files/../../etc/passwd",
        "download bad signature": "/v1/files/abc/download/a.txt?expiry=abc&signature=%%%",
        "download huge expiry": "/v1/files/abc/download/a.txt?expiry=" + "9" * 5000 + "&signature=x",
        "stream of unknown prediction": "/v1/predictions/abc/stream",
    }.items()
}

CORPUS: dict[str, Case] = {
    **{f"POST /v1/predictions {name}": case for name, case in _json_body_cases("/v1/predictions").items()},
    **{
        f"POST model predictions {name}": case
        for name, case in _json_body_cases("/v1/models/alice/echo/predictions").items()
    },
    **{f"POST /v1/models {name}": case for name, case in _json_body_cases("/v1/models").items()},
    **{f"POST /v1/files {name}": case for name, case in MULTIPART_CASES.items()},
    **CURSOR_CASES,
    **HEADER_CASES,
    **AUTH_CASES,
    **METHOD_CASES,
    **PATH_CASES,
}


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Prediction, File, Model, Version))


def assert_problem(response) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json", response.content[:500]
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert isinstance(body.get("title"), str) and body["title"].strip()
    assert isinstance(body.get("detail"), str) and body["detail"].strip()
    assert body["status"] == response.status_code
    return body


@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
def test_a_malformed_request_is_a_4xx_problem_that_creates_nothing(api, alice, echo_version, case):
    before = _counts()
    response = case.send(api, alice)
    assert_problem(response)
    assert _counts() == before


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        ("wait=" + "9" * 5000, MAX_WAIT_SECONDS),  # int() refuses over 4300 digits
        ("wait=" + "9" * 30, MAX_WAIT_SECONDS),
        ("wait=" + "0" * 30 + "7", 7),
        ("wait=" + "0" * 30, None),
        ("wait=abc", None),
        ("wait=-1", None),
        ("\u00e9", None),
    ],
)
def test_a_bad_prefer_header_is_ignored_or_clamped(prefer, seconds):
    # A preference the server cannot honour is ignored (RFC 7240 §2); it is read before the
    # prediction is created, so a bad one never fails after creating.
    assert wait_seconds(prefer) == seconds
