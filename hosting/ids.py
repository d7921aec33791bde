"""Public identifiers."""

import base64
import secrets


def new_public_id() -> str:
    """26 lowercase base32 characters (130 bits), path-safe like Replicate's prediction ids."""
    return base64.b32encode(secrets.token_bytes(17)).decode("ascii").lower()[:26]


def is_public_id(text: str) -> bool:
    """Whether `text` could be an id from new_public_id: checked before a lookup, so a path
    such as /v1/files/%00 is a 404 rather than a database error."""
    return len(text) == 26 and text.isascii() and text.isalnum() and text.islower()
