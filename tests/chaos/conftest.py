import pytest

from tests.chaos.chaos_platform import start_chaos_platform


@pytest.fixture(scope="package")
def chaos(django_db_setup, django_db_blocker, tmp_path_factory):
    """The platform the chaos tests break (tests/chaos/chaos_platform.py)."""
    with django_db_blocker.unblock():
        yield from start_chaos_platform(tmp_path_factory.mktemp("chaos"))


@pytest.fixture(autouse=True)
def _database_readable(django_db_blocker):
    """The tests read what each fault left straight from the database the platform writes."""
    with django_db_blocker.unblock():
        yield
