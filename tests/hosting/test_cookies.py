"""Browser cookies: HttpOnly always, Secure whenever the site is served over HTTPS."""

import json
import os
import subprocess
import sys

import pytest

from hosting.processes import REPO_ROOT

_READ = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps("
    "[s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, "
    "s.SESSION_COOKIE_SAMESITE, s.CSRF_TRUSTED_ORIGINS]))"
)


def cookie_settings(public_base_url: str | None) -> list:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hosting.settings", "SECRET_KEY": "k" * 50}
    env.pop("PUBLIC_BASE_URL", None)
    if public_base_url:
        env["PUBLIC_BASE_URL"] = public_base_url
    out = subprocess.run(
        [sys.executable, "-c", _READ], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hearth.example.com", [True, True, True, True, "Lax", ["https://hearth.example.com"]]),
        ("http://127.0.0.1:8000", [False, False, True, True, "Lax", ["http://127.0.0.1:8000"]]),
        (None, [False, False, True, True, "Lax", []]),
    ],
    ids=["https", "plain_http", "unset"],
)
def test_cookie_flags_follow_the_public_url(url, expected):
    assert cookie_settings(url) == expected
