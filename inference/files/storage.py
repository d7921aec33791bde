"""Files kept in Django's default storage (filesystem, or S3 through django-storages):
uploads from POST /v1/files and the files predictions return.

Their bytes are served by capability URLs (`/v1/files/{id}/download/{name}?expiry=…&signature=…`):
anyone holding one may read the file until it expires, with or without a token, because the
JS client and browsers fetch output files with no Authorization header.
"""

import hashlib
import logging
import mimetypes
import re
import unicodedata
from datetime import datetime, timedelta
from typing import IO, Any
from urllib.parse import quote

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.signing import Signer
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import Account
from hosting.ids import is_public_id
from inference.models import File, Prediction

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_MAX_NAME_CHARS = 255
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$")
_signer = Signer(salt="hearth.file-download")


def size_text(size: int) -> str:
    """`100MB` for whole mebibytes (how Replicate words its limit), else bytes."""
    return f"{size // 1024**2}MB" if size % 1024**2 == 0 else f"{size} bytes"


def safe_filename(name: str | None, fallback: str) -> str:
    """The file name a person or client gave, minus anything that could act as a path."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        name = fallback
    if len(name) > _MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        keep = extension[:16] if dot and stem else ""
        name = name[: _MAX_NAME_CHARS - len(keep) - 1] + "." + keep if keep else name[:_MAX_NAME_CHARS]
    return name


def content_type_for(name: str, declared: str | None = None) -> str:
    """`declared` if it is a well-formed media type, else a guess from the name."""
    if declared and len(declared) <= 255 and _CONTENT_TYPE.match(declared):
        return declared.lower()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _digests(content: IO[bytes]) -> tuple[int, str, str]:
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    content.seek(0)
    while chunk := content.read(CHUNK_BYTES):
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    content.seek(0)
    return size, sha256.hexdigest(), md5.hexdigest()


def file_create(
    *,
    account: Account,
    content: IO[bytes],
    name: str,
    content_type: str,
    kind: str,
    metadata: dict | None = None,
    prediction: Prediction | None = None,
    expires_at: datetime | None = None,
) -> File:
    """Store `content` (a readable, seekable binary file) and record it.

    The bytes are written first; if the row cannot be saved they are deleted again, so a
    failure leaves neither."""
    size, sha256, md5 = _digests(content)
    file = File(
        account=account,
        prediction=prediction,
        kind=kind,
        name=name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        md5=md5,
        metadata=metadata or {},
        expires_at=expires_at,
    )
    # An uploaded temporary file is moved into filesystem storage rather than copied.
    file.content.save(name, content if isinstance(content, DjangoFile) else DjangoFile(content), save=False)
    try:
        file.save(force_insert=True)
    except BaseException:
        if file.content.name:  # set by content.save() above
            file.content.storage.delete(file.content.name)
        raise
    return file


def upload_create(*, account: Account, content: IO[bytes], name: str, content_type: str, metadata: dict) -> File:
    return file_create(
        account=account,
        content=content,
        name=name,
        content_type=content_type,
        kind=File.Kind.UPLOAD,
        metadata=metadata,
        expires_at=timezone.now() + timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS),
    )


def file_delete(*, file: File) -> None:
    """Delete the row, then the bytes. Bytes the storage fails to delete are logged, not
    fatal: nothing refers to them any more."""
    storage, storage_name = file.content.storage, file.content.name
    with transaction.atomic():
        file.delete()
    try:
        if storage_name:  # a required field: only a row broken by hand has none
            storage.delete(storage_name)
    except Exception:
        logger.exception("could not delete %s from storage", storage_name)


def _signature(file_id: str, expiry: int) -> str:
    return _signer.signature(f"{file_id}:{expiry}")


def download_url(file: File, *, origin: str, expires_at: datetime) -> str:
    """The URL ends with the file's name (`…/download/out.png?…`), as Replicate's file URLs
    do: clients save outputs under the URL's last segment, and pages tell an image by it."""
    expiry = int(expires_at.timestamp())
    name = quote(file.name, safe="")
    return f"{origin}/v1/files/{file.id}/download/{name}?expiry={expiry}&signature={_signature(file.id, expiry)}"


def file_for_download(*, file_id: str, expiry: str | None, signature: str | None) -> File | None:
    """The file a capability URL names, or None if the URL is forged, expired or the file gone."""
    if not (is_public_id(file_id) and expiry and expiry.isdigit() and len(expiry) < 12 and signature):
        return None
    if not constant_time_compare(signature, _signature(file_id, int(expiry))):
        return None
    if int(expiry) < timezone.now().timestamp():
        return None
    return File.objects.filter(pk=file_id).first()


_DOWNLOAD_URL = re.compile(r"/v1/files/(?P<id>[a-z2-7]{26})/download/[^/?#]+\?expiry=\d+&signature=[\w-]+$")


def output_with_renewed_urls(prediction: Prediction, *, origin: str) -> Any:
    """The prediction's output with fresh capability URLs for its own output files, for
    pages that show kept (web) predictions after their stored links expired.

    Only URLs of files this prediction produced are renewed: a model can output any string,
    and renewing a forged link to someone else's file would hand it out."""
    own = {file.id: file for file in prediction.output_files.all()}
    expires_at = timezone.now() + timedelta(seconds=settings.OUTPUT_URL_SECONDS)

    def renew(value: Any) -> Any:
        if isinstance(value, str) and (match := _DOWNLOAD_URL.search(value)) and match["id"] in own:
            return download_url(own[match["id"]], origin=origin, expires_at=expires_at)
        if isinstance(value, list):
            return [renew(item) for item in value]
        if isinstance(value, dict):
            return {key: renew(item) for key, item in value.items()}
        return value

    return renew(prediction.output)
