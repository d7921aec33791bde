import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from hosting.env import DEVSERVER_FILES, default_storage, devserver_choices, load_env

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
        ("FILE_MAX_BYTES", "100MB"),
        ("FILE_MAX_BYTES", "0"),
        ("PREDICTION_DATA_RETENTION_SECONDS", "-5"),
        ("UPLOAD_EXPIRY_SECONDS", "a day"),
        ("OUTPUT_URL_SECONDS", "0"),
        ("INPUT_URL_ALLOWED_NETWORKS", "127.0.0.0/8,localhost"),
        ("S3_ENDPOINT_URL", "minio:9000"),
    ],
)
def test_a_malformed_value_is_a_start_up_error_naming_the_variable(environment, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        environment(**{name: value})


def test_secret_key_is_required_outside_debug(environment, monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # where `make run` never kept a key
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


def test_file_defaults_match_replicate(environment):
    env = environment()
    assert env.FILE_MAX_BYTES == 100 * 1024**2
    assert env.PREDICTION_DATA_RETENTION_SECONDS == 3600
    assert env.INPUT_URL_ALLOWED_NETWORKS == ""


def test_files_are_stored_on_the_filesystem_unless_an_s3_bucket_is_set(environment):
    assert default_storage(environment()) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    config = default_storage(
        environment(S3_BUCKET="hearth-files", S3_ENDPOINT_URL="http://minio:9000", S3_REGION="eu-west-1")
    )
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    storage = import_string(config["BACKEND"])(**config["OPTIONS"])  # refuses options it does not know
    assert (storage.bucket_name, storage.endpoint_url, storage.region_name) == (
        "hearth-files",
        "http://minio:9000",
        "eu-west-1",
    )
    assert storage.file_overwrite is False


def test_unset_variables_come_from_the_files_make_run_keeps_in_data_dir(environment, monkeypatch, tmp_path):
    environment(DATA_DIR=str(tmp_path))
    (tmp_path / "secret_key").write_text("s" * 50 + "\n")
    (tmp_path / "database_url").write_text("sqlite:///var/hearth.sqlite3")
    (tmp_path / "redis_url").write_text("redis://127.0.0.1:6379/3")
    for name in DEVSERVER_FILES:
        monkeypatch.delenv(name)
    env = load_env()
    assert (env.SECRET_KEY, env.DATABASE_URL, env.REDIS_URL) == (
        "s" * 50,
        "sqlite:///var/hearth.sqlite3",
        "redis://127.0.0.1:6379/3",
    )
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h:5432/other")  # the environment wins
    assert load_env().DATABASE_URL == "postgres://u@h:5432/other"
    assert devserver_choices({"DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}).keys() == {
        "DATABASE_URL",
        "REDIS_URL",
    }


def test_a_bad_value_in_make_runs_files_names_the_variable_and_the_files(environment, monkeypatch, tmp_path):
    environment(DATA_DIR=str(tmp_path))
    (tmp_path / "database_url").write_text("mysql://u@h/db")
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL.*read from make run's files: DATABASE_URL"):
        load_env()
