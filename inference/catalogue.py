"""A model's catalogue entry, as its page and its Model JSON show it: description, README, a cover
image the platform serves itself, a default example (a real prediction of the model), and whether
it runs tiny random demo weights. `manage.py catalogue` sets them from a model directory; `make
run` does so for every zoo model after pushing it (hosting/devserver.py)."""

import hashlib
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.db import transaction

from inference import services
from inference.models import Model, OpenAIApi, Prediction

# What a cover may be, by file extension: images a browser shows in an <img>.
COVER_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
MAX_COVER_BYTES = 512 * 1024


class CatalogueError(ValueError):
    pass


def cover_content_type(name: str) -> str:
    return COVER_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")


@transaction.atomic
def catalogue_set(
    *,
    model: Model,
    description: str,
    readme: str,
    cover: tuple[str, bytes] | None,
    demo_weights: bool,
    openai_api: str = OpenAIApi.NONE,
    cache_policy: str = Model.CachePolicy.OFF,
) -> Model:
    """Set the model's description, README, cover (file name and bytes; None keeps the one it
    has), demo-weights flag, the OpenAI-compatible endpoints it declares itself for, and when its
    outputs may answer the same input again (the prediction cache)."""
    for name, value, allowed in (
        ("openai_api", openai_api, OpenAIApi.values),
        ("cache_policy", cache_policy, Model.CachePolicy.values),
    ):
        if value not in allowed:
            choices = ", ".join(repr(choice) for choice in allowed)
            raise CatalogueError(f"{name} must be one of {choices}, not {value!r}.")
    model.description, model.readme, model.demo_weights = description, readme, demo_weights
    model.openai_api, model.cache_policy = openai_api, cache_policy
    if cover is not None:
        _set_cover(model, *cover)
    model.save(update_fields=["description", "readme", "demo_weights", "cover_image", "openai_api", "cache_policy"])
    return model


def _set_cover(model: Model, filename: str, content: bytes) -> None:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in COVER_TYPES:
        raise CatalogueError(f"A cover must be one of {', '.join(sorted(COVER_TYPES))}, not {filename}.")
    if len(content) > MAX_COVER_BYTES:
        raise CatalogueError(f"The cover {filename} is over {MAX_COVER_BYTES // 1024} KB.")
    # Named by its content: the same cover set again (`make run` does, at every start) is the
    # file already stored, not one more copy.
    name = f"covers/{model.owner.username}-{model.name}-{hashlib.sha256(content).hexdigest()[:16]}{suffix}"
    old = model.cover_image.name
    if old == name:
        return
    storage = model.cover_image.storage
    model.cover_image.name = name if storage.exists(name) else storage.save(name, ContentFile(content))
    if old:
        storage.delete(old)


def example_refresh(*, model: Model, input: dict) -> Prediction:
    """Run `input` on the model's latest version as its default example, owned by the model's
    owner and kept like a playground run (source `web`: its output files are kept for good).

    An example that is already a run of the latest version with this input, and has not ended
    without output, is kept: `make run` calls this at every start, and runs it again only when
    the model changed (or the last run failed). Raises services.InvalidInput for an input the
    version refuses."""
    version = model.latest_version
    if version is None:
        raise CatalogueError(f"{model.full_name} has no version to run an example of.")
    version.model = model
    cleaned = services.prediction_input(account=model.owner, version=version, input=input)
    current = model.default_example
    ended_without_output = {Prediction.Status.FAILED, Prediction.Status.CANCELED, Prediction.Status.ABORTED}
    if (
        current is not None
        and current.version_id == version.pk
        and current.input == cleaned
        and current.status not in ended_without_output
    ):
        return current
    example = services.prediction_create(
        account=model.owner, version=version, input=input, source=Prediction.Source.WEB
    )
    Model.objects.filter(pk=model.pk).update(default_example=example)
    model.default_example = example
    return example
