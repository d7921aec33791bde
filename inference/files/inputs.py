"""File inputs (replicate-api.md §6.1). A `Path` input arrives as one of:

- our own file URL: `…/v1/files/{id}`, one of the caller's uploads (what the Python client
  sends after uploading an open file), or a capability URL `…/v1/files/{id}/download/{name}?…`
  (for instance another prediction's output);
- a `data:` URI;
- an external http(s) URL, fetched with the size cap and the private-address guard.

`check` runs when the prediction is created, so a bad value is a 422 naming the input before
anything is queued. `materialise` runs in the worker: each value becomes a local file with its
original name, which the runner hands to the predictor as a `cog.Path`.

A URL whose path has the shape of our file URLs is taken as ours whatever its host (a proxy
may rewrite hosts); if it names no file the caller may read, it is refused, not fetched.
"""

import base64
import binascii
import hashlib
import itertools
import mimetypes
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, unquote_to_bytes, urlsplit

from django.conf import settings

from accounts.models import Account
from hosting import outbound
from hosting.problems import NotFound
from inference import selectors
from inference.files import storage
from inference.models import File, Prediction
from inference.runtime.validation import InputValidationError, InputValidator

_OUR_FILE_PATH = re.compile(r"/v1/files/(?P<id>[a-z2-7]{26})(?P<download>/download(?:/[^/]+)?)?/?$")
_DATA_URI = re.compile(
    r"data:(?P<type>[^,;]*)(?P<params>(?:;[^,;]*)*?)(?P<base64>;base64)?,(?P<data>.*)", re.DOTALL | re.IGNORECASE
)


class InputFileError(ValueError):
    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label = label
        self.reason = reason


@dataclass(frozen=True)
class DataUri:
    content_type: str
    name: str | None  # from a `name=` or `filename=` parameter, which some clients add
    data: bytes


def parse_data_uri(uri: str) -> DataUri:
    """Strict RFC 2397 parsing: base64 must be valid, the decoded size within FILE_MAX_BYTES."""
    match = _DATA_URI.fullmatch(uri)
    if match is None:
        raise ValueError("is not a valid data: URI (data:[<media type>][;base64],<data>)")
    payload, limit = match["data"], settings.FILE_MAX_BYTES
    if match["base64"]:
        if len(payload) // 4 * 3 > limit + 2:
            raise ValueError(f"is larger than {limit} bytes")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("has data that is not valid base64") from exc
    else:
        data = unquote_to_bytes(payload)
    if len(data) > limit:
        raise ValueError(f"is larger than {limit} bytes")
    params = dict(part.partition("=")[::2] for part in match["params"].split(";")[1:])
    name = params.get("name") or params.get("filename")
    return DataUri(content_type=match["type"] or "text/plain", name=unquote(name) if name else None, data=data)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    """The first value of a query parameter, or None if it is not there."""
    values = query.get(name)
    return values[0] if values else None


def _our_file(url: str, account: Account) -> File | None:
    """The file one of our URLs names, if the caller may read it; None if `url` is not ours.
    Raises ValueError for our URL shape naming nothing readable."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError("is not a valid URL") from exc
    match = _OUR_FILE_PATH.search(parts.path)
    if match is None:
        return None
    if match["download"]:
        query = parse_qs(parts.query)
        file = storage.file_for_download(
            file_id=match["id"], expiry=_first(query, "expiry"), signature=_first(query, "signature")
        )
        if file is None:
            raise ValueError("is a file link that is not valid or has expired")
        return file
    try:
        return selectors.file_get(account=account, file_id=match["id"])
    except NotFound:
        raise ValueError("is a file URL that names none of your files (it may have expired)") from None


def _check_one(account: Account, value: str) -> None:
    scheme = value.split(":", 1)[0].lower()
    if scheme == "data":
        parse_data_uri(value)
    elif scheme in ("http", "https"):
        if _our_file(value, account) is None:
            reason = outbound.refused_reason(value, allowed_networks=settings.INPUT_URL_ALLOWED_NETWORKS)
            if reason:
                raise ValueError(reason)
    else:
        raise ValueError("must be an http(s) URL or a data: URI")


def content_sha256(account: Account, value: str) -> str | None:
    """The SHA-256 of what a file input holds, where it is known without fetching: a data: URI's
    bytes, or a file of ours the account may read; None for any other URL."""
    if value.split(":", 1)[0].lower() == "data":
        return hashlib.sha256(parse_data_uri(value).data).hexdigest()
    own = _our_file(value, account)
    return own.sha256 if own is not None else None


def check(*, account: Account, validator: InputValidator, cleaned: dict) -> None:
    """Refuse file inputs that could never be read; raises InputValidationError."""
    errors: list[dict[str, str]] = []

    def inspect(label: str, value: str) -> str:
        try:
            _check_one(account, value)
        except ValueError as exc:
            errors.append({"type": "format", "field": f"input.{label}", "description": f"{label} {exc}"})
        return value

    validator.map_uris(cleaned, inspect)
    if errors:
        raise InputValidationError(errors)


def _fallback_name(label: str, content_type: str) -> str:
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return label.replace(".", "-") + extension


def _materialise_one(account: Account, label: str, value: str, directory: Path) -> Path:
    scheme = value.split(":", 1)[0].lower()
    if scheme == "data":
        uri = parse_data_uri(value)
        target = directory / storage.safe_filename(uri.name, _fallback_name(label, uri.content_type))
        target.write_bytes(uri.data)
        return target
    if scheme not in ("http", "https"):
        raise ValueError("must be an http(s) URL or a data: URI")
    own = _our_file(value, account)
    if own is not None:
        target = directory / storage.safe_filename(own.name, "file")
        with own.content.open("rb") as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy, storage.CHUNK_BYTES)
        return target
    download = directory / "download"
    try:
        response = outbound.fetch_to_file(
            value, download, max_bytes=settings.FILE_MAX_BYTES, allowed_networks=settings.INPUT_URL_ALLOWED_NETWORKS
        )
    except outbound.FetchError as exc:
        raise ValueError(str(exc)) from exc
    remote_name = unquote(PurePosixPath(response.url.path).name)
    fallback = _fallback_name(label, response.headers.get("content-type", ""))
    return download.rename(directory / storage.safe_filename(remote_name, fallback))


def materialise(*, prediction: Prediction, directory: Path) -> dict:
    """The prediction's input with every file input replaced by the path of a local copy
    under `directory` (one sub-directory each, so equal names cannot collide).
    Raises InputFileError naming the input that could not be read."""
    version = prediction.version
    validator = version.training_input_validator if prediction.is_training else version.input_validator
    counter = itertools.count()

    def fetch(label: str, value: str) -> str:
        target = directory / str(next(counter))
        target.mkdir(parents=True)
        try:
            return str(_materialise_one(prediction.account, label, value, target))
        except (ValueError, OSError) as exc:
            raise InputFileError(label, str(exc)) from exc

    return validator.map_uris(prediction.input, fetch)
