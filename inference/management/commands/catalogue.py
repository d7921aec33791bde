"""`manage.py catalogue DIRECTORY owner/name [--demo-weights]`: a pushed model's catalogue entry
from its directory (inference.catalogue). `make run` runs it for every zoo model after the push.

The directory may hold:
- `README.md`: the model's README;
- `cover.svg` (or .png, .jpg, .jpeg, .webp): its cover image, served by the platform;
- `catalogue.json`: `{"description": "...", "openai_api": "chat", "cache_policy": "seeded", "example": {<input>},
  "demo_example": {<input>}}`. `openai_api` (optional: "chat" or "embeddings") declares the model
  to the OpenAI-compatible endpoints (inference/openai_compat). `cache_policy` (optional: "off",
  "seeded" or "deterministic") lets its outputs answer the same input again (`Prefer: cache`).
  `demo_example` (optional) is run instead of `example` on demo weights: a smaller one, where the
  real one would be slow on a CPU. In either, a file input may name a file of the directory
  (`"audio": "example.ogg"`): it is sent inline as a data: URI.
What is missing is left empty; the cover is kept.
"""

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hosting.problems import ApiProblem
from inference import catalogue
from inference.models import Model, Version
from inference.representations import shown_example


def _is_file_input(schema: dict) -> bool:
    """A Cog file input (`format: uri`), or a list of them."""
    return schema.get("format") == "uri" or (schema.get("items") or {}).get("format") == "uri"


def _inline(directory: Path, value: Any) -> Any:
    """A file of the directory named by `value` as a data: URI; URLs and data: URIs as they are."""
    if isinstance(value, list):
        return [_inline(directory, item) for item in value]
    if not isinstance(value, str) or ":" in value:
        return value
    path = (directory / value).resolve()
    if not path.is_file() or not path.is_relative_to(directory.resolve()):
        raise CommandError(f"the example names {value}, which is not a file of {directory}")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{content_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


def example_input(directory: Path, example: dict[str, Any], version: Version) -> dict[str, Any]:
    properties = version.openapi_schema.get("components", {}).get("schemas", {}).get("Input", {}).get("properties", {})
    return {
        name: _inline(directory, value) if _is_file_input(properties.get(name, {})) else value
        for name, value in example.items()
    }


def _cover(directory: Path) -> tuple[str, bytes] | None:
    for suffix in catalogue.COVER_TYPES:
        path = directory / f"cover{suffix}"
        if path.is_file():
            return path.name, path.read_bytes()
    return None


class Command(BaseCommand):
    help = "Set a pushed model's description, README, cover and default example from its directory."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("model", help="owner/name")
        parser.add_argument(
            "--demo-weights", action="store_true", help="It runs tiny random demo weights: its pages say so."
        )

    def handle(self, *args, directory: Path, model: str, demo_weights: bool, **options):
        owner, _, name = model.partition("/")
        target = Model.objects.select_related("owner", "latest_version", "default_example").filter(
            owner__username=owner, name=name
        )
        found = target.first()
        if found is None:
            raise CommandError(f"no model {model}: push it first")
        metadata_path = directory / "catalogue.json"
        try:
            metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
        except json.JSONDecodeError as exc:
            raise CommandError(f"{metadata_path} is not valid JSON: {exc}") from exc
        readme_path = directory / "README.md"
        try:
            catalogue.catalogue_set(
                model=found,
                description=metadata.get("description", ""),
                readme=readme_path.read_text() if readme_path.is_file() else "",
                cover=_cover(directory),
                demo_weights=demo_weights,
                openai_api=metadata.get("openai_api", ""),
                cache_policy=metadata.get("cache_policy", "off"),
            )
            chosen = metadata.get("demo_example") if demo_weights else None
            chosen = chosen or metadata.get("example")
            if chosen is not None and found.latest_version is not None:
                example = catalogue.example_refresh(
                    model=found, input=example_input(directory, chosen, found.latest_version)
                )
                state = "shown" if shown_example(found) else f"{example.status}; shown once it has run"
                self.stderr.write(f"{found.full_name}: example {example.id} ({state})")
        except catalogue.CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        except ApiProblem as problem:  # the example's input refused by the version's schema
            raise CommandError(f"the example of {found.full_name}: {problem.title}. {problem.detail}") from problem
        self.stdout.write(found.full_name)
