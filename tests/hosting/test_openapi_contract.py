"""The OpenAPI document tells the truth, case by case: what it allows the server takes, what it
refuses the server refuses with a problem, never a 500. tests/e2e/test_schemathesis.py fuzzes
the same against the real platform; these pin the cases it found, in process."""

import json
import random
import re

import pytest

from billing.models import Hardware
from hosting.pagination import INTEGER_KEY_CURSOR, PUBLIC_ID_CURSOR
from inference.api.deadlines import CANCEL_AFTER_PATTERN, parse_cancel_after
from inference.models import Model
from tests.inference.api.test_model_versions import create_model

PROBLEM = "application/problem+json"


@pytest.fixture
def document(api, db):
    return api.get("/v1/openapi.json").json()


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


# --- the document as a whole -----------------------------------------------------------------


def test_every_operation_lists_the_problems_any_request_can_meet(document):
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert {"500", "503"} <= set(responses), (path, method)
        for status in ("429", "503"):
            if status in responses:
                assert responses[status]["headers"]["Retry-After"]["required"] is True, (path, method, status)


def test_request_bodies_are_required_but_where_an_empty_one_means_something(document):
    optional = {
        path
        for path, _, operation in _operations(document)
        if operation.get("requestBody", {}).get("required") is False
    }
    empty_is_no_input = {"/v1/models/{owner}/{name}/predictions", "/v1/deployments/{owner}/{name}/predictions"}
    assert optional == empty_is_no_input & set(document["paths"])
    assert all("x-optional-body" not in operation for _, _, operation in _operations(document))


def test_djangos_format_override_is_not_part_of_the_api(document):
    for path, method, operation in _operations(document):
        assert "format" not in {parameter["name"] for parameter in operation.get("parameters", [])}, (path, method)
    versions = document["paths"]["/v1/models/{owner}/{name}/versions"]
    assert set(versions["get"]["responses"]["200"]["content"]) == {"application/json"}


def test_the_version_upload_documents_its_body(document):
    body = document["paths"]["/v1/models/{owner}/{name}/versions"]["post"]["requestBody"]
    assert body["required"] is True
    for media_type in ("application/gzip", "application/octet-stream"):
        assert body["content"][media_type]["schema"]["format"] == "binary"
        assert body["content"][media_type]["schema"]["minLength"] == 1


def test_the_stream_documents_its_events(document):
    event = document["paths"]["/v1/predictions/{prediction_id}/stream"]["get"]["responses"]["200"]["content"][
        "text/event-stream"
    ]["schema"]
    assert event["properties"]["event"]["enum"] == ["output", "logs", "error", "done"]
    assert set(event["required"]) == {"event", "id", "data"}


def test_the_create_headers_are_described(document):
    parameters = {p["name"]: p for p in document["paths"]["/v1/predictions"]["post"]["parameters"]}
    assert parameters["Cancel-After"]["schema"]["pattern"] == CANCEL_AFTER_PATTERN
    assert "wait=N" in parameters["Prefer"]["description"]


def test_the_hardware_a_model_can_have_is_the_hardware_there_is(document, cpu):
    hardware = document["components"]["schemas"]["ModelCreateRequest"]["properties"]["hardware"]
    assert hardware["enum"] == list(Hardware.objects.values_list("sku", flat=True))
    assert "cpu" in hardware["enum"]


# --- Cancel-After ----------------------------------------------------------------------------


def _durations(count: int) -> list[str]:
    """Texts around the grammar: units in and out of order, leading zeros, sums near 5 s."""
    rng = random.Random(21)
    numbers = [0, 1, 2, 3, 4, 5, 6, 9, 10, 999, 1000, 1999, 2000, 2999, 3000, 3999, 4000, 4999, 5000, 5001]
    texts = []
    for _ in range(count):
        if rng.random() < 0.3:
            texts.append(("0" if rng.random() < 0.1 else "") + str(rng.choice([*numbers, rng.randint(0, 10**11)])))
            continue
        units = ["h", "m", "s", "ms"]
        if rng.random() < 0.05:
            rng.shuffle(units)
        parts = []
        for unit in units:
            if rng.random() < 0.45:
                number = rng.choice([*numbers, rng.randint(0, 10 ** rng.randint(1, 14))])
                parts.append(("0" if rng.random() < 0.1 else "") + str(number) + unit)
        texts.append("".join(parts))
    return texts


def _taken(value: str) -> bool:
    try:
        parse_cancel_after(value)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    "value",
    ["5", "30s", "1h30m", "0h0m5s", "4s1000ms", "5000ms", "1m", "0", "4", "05", "4s999ms", "0h0m", "1.5h", "30s1m"],
)
def test_cancel_after_is_taken_exactly_when_the_documented_pattern_allows_it(value):
    assert _taken(value) == bool(re.fullmatch(CANCEL_AFTER_PATTERN, value))


def test_cancel_after_agrees_with_its_pattern_over_many_durations():
    texts = _durations(20_000)
    disagreements = [text for text in texts if _taken(text) != bool(re.fullmatch(CANCEL_AFTER_PATTERN, text))]
    assert not disagreements
    assert 0.3 < sum(map(_taken, texts)) / len(texts) < 0.8  # both sides well exercised


def test_an_empty_cancel_after_is_refused_not_ignored(api, alice, echo_version):
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data="{}",
        content_type="application/json",
        HTTP_CANCEL_AFTER="",
        **alice.auth,
    )
    assert response.status_code == 400 and response.json()["invalid_fields"][0]["field"] == "Cancel-After"


# --- cursors ---------------------------------------------------------------------------------


def _cursors(pattern: str, count: int) -> list[str]:
    rng = random.Random(7)
    key_alphabet = "0123456789" if pattern == INTEGER_KEY_CURSOR else "0123456789abcdefghijklmnopqrstuvwxyz"
    key_length = 18 if pattern == INTEGER_KEY_CURSOR else 26
    return [
        "".join(rng.choices("0123456789", k=rng.randint(1, 16)))
        + "."
        + "".join(rng.choices(key_alphabet, k=rng.randint(1, key_length)))
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    ("path", "pattern"), [("/v1/models", INTEGER_KEY_CURSOR), ("/v1/predictions", PUBLIC_ID_CURSOR)]
)
def test_every_cursor_the_document_allows_is_a_page(api, alice, echo_version, document, path, pattern):
    parameter = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "cursor")
    assert parameter["schema"]["pattern"] == pattern
    for cursor in ["0.0", "9999999999999999.9", *_cursors(pattern, 40)]:
        assert re.fullmatch(pattern, cursor)
        response = api.get(path, {"cursor": cursor}, **alice.auth)
        assert response.status_code == 200, (cursor, response.content)


@pytest.mark.parametrize("cursor", ["", "1.2\n", "\u0661.2", "12345678901234567.1", "1.", ".1", "1.2.3", "1.A"])
def test_any_other_cursor_is_a_400(api, alice, cursor):
    response = api.get("/v1/predictions", {"cursor": cursor}, **alice.auth)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_an_integer_keyed_list_refuses_a_public_id_cursor(api, alice):
    response = api.get("/v1/models", {"cursor": "1.abc"}, **alice.auth)
    assert response.status_code == 400


def test_next_links_hold_cursors_of_the_documented_form(api, alice, echo_version, settings, cpu):
    settings.PREDICTIONS_PAGE_SIZE = 1
    Model.objects.create(owner=alice.account, name="second", hardware=cpu)
    for text in ("a", "b"):
        assert _create(api, alice, {"input": {"text": text}}).status_code == 201
    for path, pattern in (("/v1/models", INTEGER_KEY_CURSOR), ("/v1/predictions", PUBLIC_ID_CURSOR)):
        next_url = api.get(path, **alice.auth).json()["next"]
        assert re.fullmatch(pattern, next_url.rsplit("cursor=", 1)[1])
        assert api.get(next_url, **alice.auth).json()["results"]


# --- prediction create bodies ----------------------------------------------------------------


def _create(api, persona, body: dict | str):
    data = body if isinstance(body, str) else json.dumps(body)
    return api.post("/v1/models/alice/echo/predictions", data=data, content_type="application/json", **persona.auth)


@pytest.mark.parametrize(
    "body",
    [
        {"input": {"text": "a"}, "webhook": None},
        {"input": {"text": "a"}, "webhook": ""},
        {"input": {"text": "a"}, "webhook_events_filter": None},
        {"input": {"text": "a"}, "stream": None},
        {"input": {"text": "a"}, "stream": True},
        {"input": {"text": "a"}, "unknown": {"ignored": [1, None]}},
        '{"input": {"text": "\\\\u0000 is six characters, not a NUL"}}',
    ],
)
def test_bodies_the_document_allows_are_taken(api, alice, echo_version, body):
    response = _create(api, alice, body)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhook": 0}, "webhook"),
        ({"webhook": False}, "webhook"),
        ({"webhook_events_filter": {}}, "webhook_events_filter"),
        ({"webhook_events_filter": ""}, "webhook_events_filter"),
        ({"webhook_events_filter": [{}]}, "webhook_events_filter"),  # was a 500: a dict is unhashable
        ({"stream": "yes"}, "stream"),
        ('{"input": {"text": "a\\ud800"}}', "body"),  # was a 500: a lone surrogate is no UTF-8
        ('{"input": {"text": "a"}, "extra\\u0000": 1}', "body"),
    ],
)
def test_bodies_the_document_refuses_are_400_problems(api, alice, echo_version, body, field):
    response = _create(api, alice, body)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM, response.content
    assert response.json()["invalid_fields"][0]["field"] == field


# --- model create bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"description": "", "github_url": "", "cover_image_url": ""},
        {"github_url": "https://github.com/alice/painter", "paper_url": "http://example.com:8080/a?b=c#d"},
        {"unknown": "ignored", "also": [1, {"x": None}]},
    ],
)
def test_model_bodies_the_document_allows_are_taken(api, alice, cpu, fields):
    assert create_model(api, alice, **fields).status_code == 201


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"owner": 5}, "owner"),  # strict: a number is not a string, as the document says
        ({"name": 5}, "name"),
        ({"visibility": None}, "visibility"),
        ({"description": 5}, "description"),
        ({"github_url": "https://example.com/" + "a" * 200}, "github_url"),  # was a 500 (varchar(200))
        ({"github_url": "ftp://example.com"}, "github_url"),
        ({"github_url": " https://example.com"}, "github_url"),
        ({"description": "a\x00b"}, "description"),
    ],
)
def test_model_bodies_the_document_refuses_are_400_problems(api, alice, cpu, fields, field):
    response = create_model(api, alice, **fields)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert [f["field"] for f in response.json()["invalid_fields"]] == [field]
    assert not Model.objects.exists()


def test_a_lone_surrogate_in_a_model_body_is_a_400(api, alice, cpu):
    body = '{"owner": "alice", "name": "x", "visibility": "private", "hardware": "cpu", "description": "\\udc00"}'
    response = api.post("/v1/models", data=body, content_type="application/json", **alice.auth)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


# --- search texts, files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/models", {"query": "a\x00"}),  # was a 500: PostgreSQL cannot compare with a NUL
        ("/v1/search", {"query": "a\x00"}),  # likewise
        ("/v1/search", {"query": " \t "}),
        ("/v1/search", {"query": "a", "limit": " 5"}),
        ("/v1/search", {"query": "a", "limit": "\u0665"}),  # an Arabic-Indic 5: isdigit() takes it
        ("/v1/models", {"query": "a" * 201}),
    ],
)
def test_search_texts_the_document_refuses_are_400_problems(api, alice, path, params):
    response = api.get(path, params, **alice.auth)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_a_search_text_of_a_character_json_schema_calls_no_space_is_taken(api, alice):
    assert api.get("/v1/search", {"query": "\x1c"}, **alice.auth).status_code == 200  # str.strip() would drop it


def test_a_nul_in_the_search_body_is_a_400(api, alice):
    response = api.generic("QUERY", "/v1/models", data="a\x00", content_type="text/plain", **alice.auth)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


BOUNDARY = "BoUnDaRy"


def _upload(api, persona, *metadata_parts: bytes):
    parts = [b'Content-Disposition: form-data; name="content"; filename="a.txt"\r\n\r\nhi', *metadata_parts]
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts) + b"--BoUnDaRy--\r\n"
    return api.generic(
        "POST", "/v1/files", body, content_type=f"multipart/form-data; boundary={BOUNDARY}", **persona.auth
    )


@pytest.mark.parametrize(
    "parts",
    [
        [b'Content-Disposition: form-data; name="metadata"\r\n\r\n'],  # "" is no JSON object
        [b'Content-Disposition: form-data; name="metadata"\r\n\r\n{}'] * 2,
        [b'Content-Disposition: form-data; name="metadata"\r\n\r\n{"a": "\\ud800"}'],  # a lone surrogate
    ],
    ids=["empty", "twice", "lone-surrogate"],
)
def test_metadata_the_document_refuses_is_a_400(api, alice, parts):
    response = _upload(api, alice, *parts)
    assert response.status_code == 400 and response.json()["invalid_fields"][0]["field"] == "metadata"


def test_metadata_as_a_json_part_is_taken(api, alice):
    part = b'Content-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n{"a": [1]}'
    response = _upload(api, alice, part)
    assert response.status_code == 201 and response.json()["metadata"] == {"a": [1]}


# --- what no operation answers ---------------------------------------------------------------


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/*"])
def test_an_accept_header_no_endpoint_satisfies_still_gets_json_not_a_406(api, alice, accept):
    response = api.get("/v1/account", HTTP_ACCEPT=accept, **alice.auth)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_a_format_query_parameter_is_no_override(api, alice):
    response = api.get("/v1/models", {"format": "bogus"}, **alice.auth)  # DRF's override would 404
    assert response.status_code == 200
