"""Turning JSON inputs into what a Cog predictor expects, and its outputs back into JSON.

Runs inside the runner process (`inference.runtime.child`).
"""

import base64
import dataclasses
import io
import mimetypes
import os
import pathlib
import shutil
import types
import typing
import urllib.parse
from typing import Any

import cog


def coerce_input(annotation: Any, value: Any, name: str) -> Any:
    """Wrap `value` the way Cog does for a parameter annotated `annotation`.

    Secrets become cog.Secret (they print as stars), paths become cog.Path and the
    deprecated cog.File an open binary file, as in Cog. Everything else is passed as is:
    checking types and constraints is the input validation's job, before a prediction is
    queued.
    """
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return coerce_input(inner[0], value, name) if len(inner) == 1 else value
    if origin is list and isinstance(value, list):
        return [coerce_input(args[0] if args else None, item, name) for item in value]
    if not isinstance(annotation, type):
        return value
    if issubclass(annotation, cog.Secret):
        return value if isinstance(value, cog.Secret) else cog.Secret(value)
    if issubclass(annotation, cog.File):
        return open(_local_path(value, name), "rb")
    if issubclass(annotation, os.PathLike):
        return cog.Path(_local_path(value, name))
    return value


def _local_path(value: str, name: str) -> str:
    # URL inputs are downloaded by the worker before they get here.
    if urllib.parse.urlparse(value).scheme in ("http", "https", "data"):
        raise ValueError(f"Input {name!r} is a URL; the runner only accepts local file paths")
    return value


class OutputFiles:
    """Where output files go when the worker stores them (it names the directory).

    Each file is copied at once, as it is returned or yielded: predictors often write every
    iterator item to the same path, so a later read could see a later item. The worker gets
    the copy's path and uploads it to storage. Copying on the local disk rather than sending
    base64 data: URIs over the pipe keeps large files (video) out of memory and JSON, keeps
    their names, and cannot be mistaken for a model's own string output.
    """

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self._count = 0

    def add(self, source: pathlib.Path | io.IOBase) -> str:
        target_dir = self.directory / str(self._count)
        self._count += 1
        target_dir.mkdir(parents=True)
        if isinstance(source, pathlib.Path):
            target = target_dir / (source.name or "output")
            shutil.copyfile(source, target)
        else:
            target = target_dir / (os.path.basename(str(getattr(source, "name", ""))) or "output")
            data = source.read()
            target.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(target)


def encode_output(value: Any, files: OutputFiles | None = None) -> Any:
    """A JSON-serialisable form of a predictor's output (or of one iterator item).

    Files are copied into `files` and become their copy's path; without it they become
    base64 `data:` URIs, which is what Cog returns when it has nowhere to upload them.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, cog.Secret):
        return str(value)  # the masked form: a secret must not leak through the output
    if isinstance(value, (pathlib.Path, io.IOBase)) and files is not None:
        return files.add(value)
    if isinstance(value, pathlib.Path):
        return _data_uri(value.read_bytes(), value.name)
    if isinstance(value, io.IOBase):
        data = value.read()
        return _data_uri(data.encode() if isinstance(data, str) else data, getattr(value, "name", ""))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # cog.BaseModel too
        return {field.name: encode_output(getattr(value, field.name), files) for field in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # a pydantic model, which Cog accepts when pydantic is installed
        return encode_output(value.model_dump(), files)
    if isinstance(value, dict):
        return {str(key): encode_output(item, files) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode_output(item, files) for item in value]
    raise TypeError(f"Cannot return a value of type {type(value).__name__}")


def _data_uri(data: bytes, filename: str) -> str:
    mime = mimetypes.guess_type(str(filename))[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
