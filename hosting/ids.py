"""Public identifiers."""

import base64
import secrets


def new_public_id() -> str:
    """26 lowercase base32 characters (130 bits), path-safe like Replicate's prediction ids."""
    return base64.b32encode(secrets.token_bytes(17)).decode("ascii").lower()[:26]
