"""A model's default example on its page: its input and its output, rendered on the server (the
page shows them without a script), the way static/js/prediction.js renders a live output."""

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from inference.files import storage
from inference.models import Model, Prediction
from inference.web import playground

Kind = Literal["image", "audio", "video", "link", "text", "json"]

_DATA_MEDIA = re.compile(r"^data:(image|audio|video)/", re.IGNORECASE)
_EXTENSIONS: dict[Kind, re.Pattern[str]] = {
    "image": re.compile(r"\.(png|jpe?g|gif|webp|bmp|svg|avif)$", re.IGNORECASE),
    "audio": re.compile(r"\.(mp3|wav|ogg|oga|flac|m4a|aac)$", re.IGNORECASE),
    "video": re.compile(r"\.(mp4|webm|mov|m4v|ogv)$", re.IGNORECASE),
}
# Longer input texts are cut on the page; the API has them whole.
MAX_SHOWN_CHARS = 400


@dataclass(frozen=True)
class Piece:
    kind: Kind
    value: Any


def _media_kind(value: str) -> Kind | None:
    if match := _DATA_MEDIA.match(value):
        return match[1].lower()  # type: ignore[return-value]  # one of the three the pattern allows
    if not re.match(r"^(https?://|/)", value, re.IGNORECASE):
        return None
    path = re.split(r"[?#]", value)[0]
    for kind, pattern in _EXTENSIONS.items():
        if pattern.search(path):
            return kind
    return "link" if re.match(r"^https?://", value, re.IGNORECASE) else None


def _piece(value: Any) -> Piece:
    if isinstance(value, str):
        return Piece(_media_kind(value) or "text", value)
    if isinstance(value, (dict, list)):
        return Piece("json", json.dumps(value, indent=2, ensure_ascii=False))
    return Piece("text", json.dumps(value))  # a number, true, false or null, as JSON writes it


def pieces(value: Any, *, display: str = "") -> list[Piece]:
    """An output (or input value) as the parts the page shows: an iterator of text as one text,
    a list of files as each file, anything else as text or JSON."""
    if isinstance(value, list) and display == "concatenate":
        return [Piece("text", "".join(str(item) for item in value))]
    if isinstance(value, list) and value and all(isinstance(item, str) and _media_kind(item) for item in value):
        return [_piece(item) for item in value]
    if isinstance(value, list) and display == "iterator":
        return [_piece(item) for item in value]
    return [_piece(value)]


def _shown_input(value: Any) -> list[Piece]:
    shown = pieces(value)
    return [
        Piece("text", f"{piece.value[:MAX_SHOWN_CHARS]}…")
        if piece.kind == "text" and len(piece.value) > MAX_SHOWN_CHARS
        else piece
        for piece in shown
    ]


def context(model: Model, *, origin: str) -> dict[str, Any] | None:
    """What the page's example section shows; None when the model has no example, or its last
    one ended without output."""
    example: Prediction | None = model.default_example
    if example is None or example.status in (
        Prediction.Status.FAILED,
        Prediction.Status.CANCELED,
        Prediction.Status.ABORTED,
    ):
        return None
    finished = example.status == Prediction.Status.SUCCEEDED
    display = playground.output_display(example.version.openapi_schema)
    return {
        "prediction": example,
        "finished": finished,
        "input": [(name, _shown_input(value)) for name, value in example.input.items()],
        # Its output files are kept (a web prediction's), but their links expire: fresh ones each view.
        "output": pieces(storage.output_with_renewed_urls(example, origin=origin), display=display) if finished else [],
    }
