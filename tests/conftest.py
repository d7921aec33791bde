"""Shared personas in the healthchecks style: alice and bob are separate tenants."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import Account, ApiToken
from accounts.services import token_create, user_create
from billing.models import Hardware
from billing.skus import seed_default_hardware
from inference.models import Model, Version

# The `platform` fixture (real Daphne + Celery processes) serves tests/e2e and tests/browser:
# one definition, so one session-wide platform however many directories run.
pytest_plugins = ["tests.live_platform"]

FIXTURE_MODELS = Path(__file__).parent / "fixtures" / "models"
ZOO = Path(__file__).resolve().parent.parent / "zoo"

ECHO_SCHEMA = {
    "openapi": "3.0.2",
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "title": "Input",
                "properties": {"text": {"type": "string", "title": "Text", "x-order": 0, "default": "hello"}},
            },
            "Output": {"type": "string", "title": "Output"},
        }
    },
}


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """Always create the test database: pytest-django creates it only when a collected test
    carries a database mark, and the end-to-end tests (which commit their data for the server
    processes to see) carry none."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test starts with empty per-process caches (tokens, models to run)."""
    from accounts import authentication
    from inference import selectors
    from inference.worker import records

    caches = (authentication._cache, selectors._models_to_run, selectors._versions_by_id, records._run_contexts)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


@dataclass
class Persona:
    account: Account
    token: ApiToken
    plaintext: str

    @property
    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.plaintext}"}


def make_persona(username: str) -> Persona:
    user, account = user_create(username=username, email=f"{username}@example.com", password="correct horse 9")
    token, plaintext = token_create(account=account, name="test", created_by=user)
    return Persona(account=account, token=token, plaintext=plaintext)


@pytest.fixture
def alice(db) -> Persona:
    return make_persona("alice")


@pytest.fixture
def bob(db) -> Persona:
    return make_persona("bob")


@pytest.fixture
def cpu(db) -> Hardware:
    # Transactional tests flush the SKUs the data migration seeded.
    seed_default_hardware(Hardware)
    return Hardware.objects.get(sku="cpu")


@pytest.fixture
def echo_version(alice, cpu) -> Version:
    """A private model of alice's with one version (registered directly, no package to run)."""
    model = Model.objects.create(owner=alice.account, name="echo", hardware=cpu)
    version = Version.objects.create(
        model=model,
        sha256="a" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=ECHO_SCHEMA,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )
    model.latest_version = version
    model.save()
    return version


def another_version(version: Version, sha256: str) -> Version:
    """A second version of `version`'s model, with the same schema and no package to run."""
    return Version.objects.create(
        model=version.model,
        sha256=sha256,
        predictor_ref=version.predictor_ref,
        openapi_schema=version.openapi_schema,
        cog_version=version.cog_version,
        package=version.package,
    )


@pytest.fixture
def api() -> Client:
    return Client()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A transactional test without serialized_rollback flushes the content types away, and the
    next one that has it fails to recreate them ("duplicate key … django_content_type"), in
    whatever file runs next. Refuse such a test where it is written instead."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, serialized_rollback=True)"
            )
