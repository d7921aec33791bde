import pytest
from django.core.exceptions import ImproperlyConfigured

from hosting.env import load_env

VALID = {"SECRET_KEY": "k" * 40, "DATABASE_URL": "postgres://u@h:5432/db", "REDIS_URL": "redis://h:6379/0"}


@pytest.fixture
def environment(monkeypatch):
    def apply(**overrides):
        for name, value in {**VALID, **overrides}.items():
            monkeypatch.setenv(name, value)
        return load_env()

    return apply


def test_a_valid_environment_loads(environment):
    env = environment(PUBLIC_BASE_URL="https://hearth.example.com", DEBUG="false")
    assert str(env.PUBLIC_BASE_URL) == "https://hearth.example.com/"
    assert env.DEBUG is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://h:6379"),
        ("DEBUG", "perhaps"),
        ("PUBLIC_BASE_URL", "hearth.example.com"),
        ("PREDICTION_MAX_RUN_TIME", "ten minutes"),
        ("PREDICTION_MAX_RUN_TIME", "0"),
        ("TOKEN_CACHE_SECONDS", "-1"),
        ("RUNNER_MEMORY_BUDGET_MB", "2GB"),
        ("SECRET_KEY", "short"),
    ],
)
def test_a_malformed_value_is_a_start_up_error_naming_the_variable(environment, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        environment(**{name: value})


def test_secret_key_is_required_outside_debug(environment, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_env()
    monkeypatch.setenv("DEBUG", "true")
    assert load_env().SECRET_KEY is None


def test_webhook_allowed_networks_must_be_networks(environment):
    assert environment(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8, ::1/128").WEBHOOK_ALLOWED_NETWORKS
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_NETWORKS"):
        environment(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8,localhost")
