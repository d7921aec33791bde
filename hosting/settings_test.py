"""Test settings: the real settings with test-friendly environment defaults.

Tests run on PostgreSQL and Redis for real; only values a developer would otherwise
have to export are defaulted here.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hearth")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Media, packages and runtime caches of one test run, shared with the processes it starts.
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hearth-test-"))
# No package index: the suite needs no network. Tests that build environments point
# PACKAGE_FIND_LINKS at wheels they make (tests/wheels.py).
os.environ.setdefault("PACKAGE_INDEX_URL", "")

from hosting.settings import *

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests render pages without running collectstatic first.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
# Daphne in the end-to-end and browser tests serves static files straight from static/.
WHITENOISE_USE_FINDERS = True
