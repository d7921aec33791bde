"""cog.yaml `weights:` (Cog's managed weights): resolved at push, fetched once per machine, and put
in place in a version's unpacked project before its runner starts.

Sources (read and checked by `packaging.read_cog_config`):

- a path in the package (`weights/model.safetensors`, `/src/weights`, a file or a directory):
  its bytes are the package's own, so they travel with it;
- an http(s) URL, fetched through `hosting.outbound` (private addresses refused unless in
  WEIGHTS_ALLOWED_NETWORKS; at most WEIGHTS_MAX_BYTES);
- a file uploaded with POST /v1/files by the model's owner, named by its `urls.get` URL or as
  `hearth://files/<id>`. Uploads expire, versions do not: the push copies its bytes into the
  platform's storage as `weights/<sha256>`, and workers read that copy.

The digest: every weight is recorded on the version with its sha256 and size. An entry may
declare `sha256:` (Hearth's own key), and the push refuses bytes that differ; otherwise the
pushing machine fetches the bytes and records their digest, so every worker checks the same
bytes. The recorded weights are part of the version id, so the same package with other bytes
is another version.

On a machine, URL and upload weights live in WEIGHTS_DIR (`DATA_DIR/weights/<sha256>`, read-only
files, fetched under a lock per digest so workers sharing the machine fetch each once; a fetch is
written beside them and renamed into place only once its digest matches). `place` hard-links
each into the unpacked project at its target (a symbolic link across file systems); a package
path is made read-only and linked (relatively) at its target unless it is its own target.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.storage import default_storage

from accounts.models import Account
from hosting import outbound
from hosting.problems import NotFound
from inference import selectors
from inference.registry.packaging import PackageError, WeightSpec, package_files
from inference.registry.uv_commands import Log

STORAGE_PREFIX = "weights/"
_CHUNK = 1024 * 1024

Writer = Callable[[Path, Callable[[bytes], None]], None]


class WeightsError(Exception):
    """Weights that cannot be had: a source that fails, or bytes that are not those recorded."""


def _quiet(line: str) -> None:
    pass


# --- At push ------------------------------------------------------------------------------------


def resolve(
    specs: tuple[WeightSpec, ...], *, project_dir: Path, owner: Account | None, log: Log = _quiet
) -> list[dict]:
    """What the version records of its weights (name, source, target, sha256, size, and where
    workers fetch them); raises PackageError naming the entry that cannot be had."""
    records = []
    for spec in specs:
        try:
            record = _resolve_one(spec, project_dir, owner, log)
        except WeightsError as exc:
            raise PackageError(f"cog.yaml weights entry {spec.name!r}: {exc}", "weights") from exc
        if spec.sha256 is not None and record["sha256"] != spec.sha256:
            raise PackageError(
                f"cog.yaml weights entry {spec.name!r}: {spec.source} has sha256 {record['sha256']}, "
                f"not the declared {spec.sha256}",
                "weights",
            )
        log(f"Weights {spec.name}: {record['size']} bytes, sha256 {record['sha256']}, at /src/{spec.target}\n")
        records.append(record)
    return records


def _resolve_one(spec: WeightSpec, project_dir: Path, owner: Account | None, log: Log) -> dict:
    record: dict = {"name": spec.name, "source": spec.source, "kind": spec.kind, "target": spec.target}
    if spec.kind == "package":
        path = project_dir / spec.location
        digest, size = _tree_digest(path) if path.is_dir() else file_digest(path)
        return {**record, "path": spec.location, "sha256": digest, "size": size}
    if spec.kind == "url":
        cached = _cached(spec.sha256) if spec.sha256 else None
        if cached is None:  # fetched, then checked against a declared digest by `resolve`
            log(f"Weights {spec.name}: fetching {spec.location}\n")
            cached = _into_cache(_url_writer(spec.location), expected=None, what=spec.location)
        return {**record, "url": spec.location, "sha256": cached.name, "size": cached.stat().st_size}
    return {**record, **_stored_upload(spec, owner)}


def _stored_upload(spec: WeightSpec, owner: Account | None) -> dict:
    """An upload's bytes copied to `weights/<sha256>` in the platform's storage, once."""
    if owner is None:
        raise WeightsError("an uploaded file can only be named in a push to an account's model")
    try:
        upload = selectors.file_get(account=owner, file_id=spec.location)
    except NotFound:
        raise WeightsError(
            f"{spec.source} names none of {owner.username}'s uploaded files (uploads expire; upload it again)"
        ) from None
    name = f"{STORAGE_PREFIX}{upload.sha256}"
    if not default_storage.exists(name):
        # Through this machine's cache, checked against the digest taken at upload.
        cached = _into_cache(
            _storage_writer(str(upload.content.name)), expected=upload.sha256, what=spec.source, recorded="at upload"
        )
        with cached.open("rb") as handle:
            name = default_storage.save(name, DjangoFile(handle))
    return {"file": upload.id, "object": name, "sha256": upload.sha256, "size": upload.size}


def file_digest(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _tree_digest(directory: Path) -> tuple[str, int]:
    """A directory's digest: the sha256 of its listing, one `path NUL sha256 NUL size` line per
    packaged file in path order; and the bytes of those files."""
    listing, total = hashlib.sha256(), 0
    for path in sorted(package_files(directory), key=lambda p: p.relative_to(directory).as_posix()):
        digest, size = file_digest(path)
        listing.update(f"{path.relative_to(directory).as_posix()}\0{digest}\0{size}\n".encode())
        total += size
    return listing.hexdigest(), total


def version_digest(package_digest: str, records: list[dict]) -> str:
    """The version id: the package's digest, or with weights, the digest of it and them."""
    if not records:
        return package_digest
    material = json.dumps({"package": package_digest, "weights": records}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


# --- On a worker --------------------------------------------------------------------------------


def place(records: list[dict], project_dir: Path) -> None:
    """Put each recorded weight at its target in a version's unpacked project (before it is
    renamed into place: `packaging.extract_package`'s `prepare`); raises WeightsError."""
    for record in records:
        try:
            _place_one(record, project_dir)
        except WeightsError as exc:
            raise WeightsError(f"weights {record['name']!r}: {exc}") from exc
        except OSError as exc:
            raise WeightsError(
                f"weights {record['name']!r}: could not put them at /src/{record['target']}: {exc}"
            ) from exc


def _place_one(record: dict, project_dir: Path) -> None:
    target = project_dir / record["target"]
    if record["kind"] == "package":
        source = project_dir / record["path"]
        _read_only(source)
        if record["path"] == record["target"]:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Relative, so the link survives the rename of the unpacked project into place.
        target.symlink_to(os.path.relpath(source, target.parent), target_is_directory=source.is_dir())
        return
    cached = fetch(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(cached, target)
    except OSError:  # another file system (or one without hard links)
        target.symlink_to(cached)


def fetch(record: dict) -> Path:
    """The cached file of a URL or upload weight, fetched and checked first if this machine
    has not got it yet."""
    if (cached := _cached(record["sha256"])) is not None:
        return cached
    if record["kind"] == "url":
        writer, what = _url_writer(record["url"]), record["url"]
    else:
        writer, what = _storage_writer(record["object"]), record["source"]
    return _into_cache(writer, expected=record["sha256"], what=what)


def _read_only(path: Path) -> None:
    """Take write permission off a file, or off every file under a directory."""
    files = [path] if not path.is_dir() else [Path(root) / name for root, _, names in os.walk(path) for name in names]
    for file in files:
        mode = file.stat().st_mode
        file.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# --- The cache ----------------------------------------------------------------------------------


def _cached(sha256: str) -> Path | None:
    path = Path(settings.WEIGHTS_DIR) / sha256
    return path if path.is_file() else None


@contextlib.contextmanager
def _locked(sha256: str) -> Iterator[None]:
    locks = Path(settings.WEIGHTS_DIR) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{sha256}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _into_cache(write: Writer, *, expected: str | None, what: str, recorded: str = "at push") -> Path:
    """Fetch into the cache with `write`, checking the bytes against `expected` (when known,
    the digest `recorded` then) before they become `WEIGHTS_DIR/<sha256>`; the cached file."""
    directory = Path(settings.WEIGHTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(expected) if expected else contextlib.nullcontext():
        if expected and (cached := _cached(expected)) is not None:
            return cached  # fetched meanwhile by another worker on this machine
        partial = directory / f".partial-{secrets.token_hex(8)}"
        digest = hashlib.sha256()
        try:
            write(partial, digest.update)
            actual = digest.hexdigest()
            if expected and actual != expected:
                raise WeightsError(
                    f"the bytes of {what} have sha256 {actual}, not {expected} as recorded {recorded}; "
                    "the source has changed since"
                )
            partial.chmod(0o444)
            final = directory / actual
            partial.replace(final)
            return final
        except OSError as exc:
            raise WeightsError(f"could not store {what} in {directory}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)


def _url_writer(url: str) -> Writer:
    def write(destination: Path, on_chunk: Callable[[bytes], None]) -> None:
        try:
            outbound.fetch_to_file(
                url,
                destination,
                max_bytes=settings.WEIGHTS_MAX_BYTES,
                allowed_networks=settings.WEIGHTS_ALLOWED_NETWORKS,
                on_chunk=on_chunk,
            )
        except outbound.FetchError as exc:
            raise WeightsError(f"{url}: {exc}") from exc

    return write


def _storage_writer(name: str) -> Writer:
    def write(destination: Path, on_chunk: Callable[[bytes], None]) -> None:
        try:
            source = default_storage.open(name, "rb")
        except (OSError, FileNotFoundError) as exc:
            raise WeightsError(f"the stored copy {name} cannot be read: {exc}") from exc
        with source, destination.open("wb") as copy:
            while chunk := source.read(_CHUNK):
                on_chunk(chunk)
                copy.write(chunk)

    return write
