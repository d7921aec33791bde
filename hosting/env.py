"""Deploy-time configuration, read from environment variables and parsed strictly.

Every setting that changes between machines lives here, typed, so a malformed value
stops the process at start-up with a message naming the variable instead of failing
later on a request.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent.parent

DATABASE_SCHEMES = ("postgres", "postgresql", "sqlite")

# `make run` (hosting/devserver.py) keeps what it chose in these files under DATA_DIR, one value
# each: the key it generated and the database and Redis it used. Where a variable is unset,
# `load_env` reads its file, so a `manage.py createuser` or `push` run by hand in another shell
# reaches the same database with the same key, as make run's own children do.
DEVSERVER_FILES = {"SECRET_KEY": "secret_key", "DATABASE_URL": "database_url", "REDIS_URL": "redis_url"}


class HearthEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    DEBUG: bool = False
    SECRET_KEY: str | None = Field(default=None, min_length=32)
    ALLOWED_HOSTS: str = "localhost,127.0.0.1,[::1]"  # comma-separated
    DATABASE_URL: str = "postgres://postgres@127.0.0.1:5432/hearth"
    DATABASE_POOL_MAX_SIZE: int = Field(default=8, ge=1, le=200)
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    # Absolute URL clients reach this server at; used for `urls.*` and pagination links.
    # Unset: built from each request's Host header.
    PUBLIC_BASE_URL: AnyHttpUrl | None = None
    DATA_DIR: Path = BASE_DIR / "var"
    # Longest a prediction may run before it is stopped (seconds).
    PREDICTION_MAX_RUN_TIME: int = Field(default=30 * 60, ge=1)
    # How long a token lookup may be served from a process-local cache; a revoked
    # token keeps working at most this long in each web process.
    TOKEN_CACHE_SECONDS: float = Field(default=5.0, ge=0, le=60)
    # Likewise for the models and versions predictions run, in web processes and workers: a
    # newly pushed version, a visibility or price change, a disabled model applies within
    # this many seconds.
    MODEL_CACHE_SECONDS: float = Field(default=2.0, ge=0, le=60)
    PREDICTIONS_PAGE_SIZE: int = Field(default=100, ge=1, le=1000)
    # Warm runners one worker process keeps before evicting the least recently used.
    MAX_WARM_RUNNERS: int = Field(default=4, ge=1, le=64)
    # Resident memory (MiB) a worker's runners may hold before idle ones are evicted, least
    # recently used first, to make room for another; 0: no budget (MAX_WARM_RUNNERS only).
    RUNNER_MEMORY_BUDGET_MB: int = Field(default=0, ge=0)
    # Hardware SKUs this machine's worker serves (comma-separated): it consumes only their queues
    # (and `default`), and keeps deployments' minimum instances of only these SKUs warm.
    WORKER_HARDWARE: str = "cpu"
    # How often a worker checks which deployments' instances it should keep booted, and reports
    # its runners (warm, busy, booting) for the dashboard and the autoscaling figures.
    KEEP_WARM_INTERVAL_SECONDS: float = Field(default=5.0, gt=0, le=300)
    # The most instances one deployment may ask for (`max_instances`).
    DEPLOYMENT_MAX_INSTANCES: int = Field(default=20, ge=1, le=1000)
    # Bearer token that Prometheus and KEDA send to /metrics and /metrics/scaling; empty: those
    # answer only requests from this machine (127.0.0.1, ::1).
    METRICS_TOKEN: str = ""
    # A worker proves it still runs a prediction this often; 3 missed beats and it is lost.
    PREDICTION_HEARTBEAT_SECONDS: float = Field(default=10.0, gt=0, le=300)
    # A queued prediction no worker has claimed this long is queued again (its message may be
    # lost: a queue deleted, a Redis restarted empty), once per such period; one still unclaimed
    # after PREDICTION_MAX_QUEUE_SECONDS fails with a clear error.
    PREDICTION_REQUEUE_SECONDS: float = Field(default=120.0, ge=1)
    PREDICTION_MAX_QUEUE_SECONDS: float = Field(default=3600.0, ge=1)
    # How long a cached output answers the same input again (`Prefer: cache`); never past the
    # removal of the output it points to.
    PREDICTION_CACHE_SECONDS: int = Field(default=3600, ge=1)
    # The fair claim counts each account's predictions started on a SKU over this window: the
    # account that started the fewest (for its weight) goes next. 0: first in, first out.
    FAIR_SHARE_WINDOW_SECONDS: float = Field(default=60.0, ge=0)
    # Idle SSE streams get a comment this often; clients time out reads after 30 s.
    STREAM_KEEPALIVE_SECONDS: float = Field(default=15.0, gt=0, le=25)
    MAX_PACKAGE_BYTES: int = Field(default=2 * 1024**3, ge=1024)
    # Networks webhooks may reach although private/loopback (comma-separated CIDRs), e.g. for tests.
    WEBHOOK_ALLOWED_NETWORKS: str = ""
    WEBHOOK_MAX_RETRIES: int = Field(default=6, ge=0, le=20)
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(default=2.0, gt=0)
    # Seconds of its hardware's price a prediction in flight reserves against a spending limit.
    BILLING_RESERVATION_SECONDS: int = Field(default=60, ge=1)
    # Files: the largest upload or downloaded input, and how long things are kept.
    FILE_MAX_BYTES: int = Field(default=100 * 1024**2, ge=1)
    UPLOAD_EXPIRY_SECONDS: int = Field(default=24 * 3600, ge=1)  # `expires_at` of POST /v1/files
    # Inputs, outputs, output files and logs of API predictions are removed this long after
    # they finish (`data_removed: true`); web predictions are kept.
    PREDICTION_DATA_RETENTION_SECONDS: int = Field(default=3600, ge=1)
    # Lifetime of the capability URLs of kept (web) prediction outputs.
    OUTPUT_URL_SECONDS: int = Field(default=7 * 24 * 3600, ge=1)
    # Networks file-input URLs may be fetched from although private/loopback (comma-separated CIDRs).
    INPUT_URL_ALLOWED_NETWORKS: str = ""
    # cog.yaml `weights:` from http(s) URLs: networks they may be fetched from although
    # private/loopback (comma-separated CIDRs; an in-house mirror), and the largest file fetched.
    WEIGHTS_ALLOWED_NETWORKS: str = ""
    WEIGHTS_MAX_BYTES: int = Field(default=100 * 1024**3, ge=1)
    # Per-version Python environments (cog.yaml `build:`), resolved at push and built with uv.
    # Where packages come from: an index ("" for none: find-links only), extra indexes and
    # find-links (comma-separated URLs or directories: an air-gapped site's mirror or wheelhouse).
    PACKAGE_INDEX_URL: str = "https://pypi.org/simple"
    PACKAGE_EXTRA_INDEX_URLS: str = ""
    PACKAGE_FIND_LINKS: str = ""
    # Interpreters a version's `python_version` may pick, besides the platform's own
    # (comma-separated executables, e.g. /usr/bin/python3.12); with PYTHON_DOWNLOADS, uv may
    # download a build of one that is missing.
    PYTHON_INTERPRETERS: str = ""
    PYTHON_DOWNLOADS: bool = False
    # Disk environments may take before those no runner uses are removed, least recently used first.
    ENVIRONMENTS_DISK_BUDGET_MB: int = Field(default=50 * 1024, ge=1)
    ENVIRONMENT_BUILD_TIMEOUT_SECONDS: int = Field(default=1800, ge=10)
    # System packages the workers have (comma-separated) besides those dpkg reports on the
    # pushing machine: `system_packages` naming anything else is refused at push.
    SYSTEM_PACKAGES: str = ""
    # Run cog.yaml `build.run` commands in the version's environment at build time (they run
    # as the worker's user, on the worker's machine); off, a version with any is refused.
    ALLOW_BUILD_RUN: bool = False
    # Object storage: set S3_BUCKET to store files in S3 or an S3-compatible service through
    # django-storages (credentials from the usual AWS_* variables); unset, the local DATA_DIR.
    S3_BUCKET: str = ""
    S3_ENDPOINT_URL: AnyHttpUrl | None = None
    S3_REGION: str = ""
    # Requests per minute per API token (0: unlimited): prediction creation, and everything else.
    RATE_LIMIT_CREATE_PER_MINUTE: int = Field(default=600, ge=0)
    RATE_LIMIT_API_PER_MINUTE: int = Field(default=3000, ge=0)
    LOG_LEVEL: str = "INFO"
    # Password-reset mail. The console backend prints it; set the SMTP backend and host to send it.
    EMAIL_BACKEND: str = "django.core.mail.backends.console.EmailBackend"
    EMAIL_HOST: str = "localhost"
    EMAIL_PORT: int = Field(default=25, ge=1, le=65535)
    EMAIL_HOST_USER: str = ""
    EMAIL_HOST_PASSWORD: str = ""
    EMAIL_USE_TLS: bool = False
    DEFAULT_FROM_EMAIL: str = "Hearth <noreply@localhost>"

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in DATABASE_SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in DATABASE_SCHEMES)}")
        return value

    @field_validator("WEBHOOK_ALLOWED_NETWORKS", "INPUT_URL_ALLOWED_NETWORKS", "WEIGHTS_ALLOWED_NETWORKS")
    @classmethod
    def _networks(cls, value: str) -> str:
        return _check_networks(value)

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


def comma_list(value: str) -> list[str]:
    """The non-empty items of a comma-separated variable."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _check_networks(value: str) -> str:
    import ipaddress

    for text in comma_list(value):
        ipaddress.ip_network(text, strict=False)  # ValueError names the bad entry
    return value


def devserver_choices(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Values `make run` left in DATA_DIR (`DEVSERVER_FILES`) for the variables `environ` lacks."""
    data_dir = Path(environ.get("DATA_DIR") or BASE_DIR / "var")
    choices = {}
    for variable, name in DEVSERVER_FILES.items():
        if environ.get(variable):
            continue
        try:
            value = (data_dir / name).read_text().strip()
        except OSError:  # none there (make run never ran), or not ours to read
            continue
        if value:
            choices[variable] = value
    return choices


def load_env() -> HearthEnv:
    choices = devserver_choices()
    try:
        env = HearthEnv(**choices)  # type: ignore[arg-type]  # strings, parsed as the environment's are
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        if choices:
            problems += f" (unset in the environment, read from make run's files: {', '.join(sorted(choices))})"
        raise ImproperlyConfigured(f"Invalid environment configuration: {problems}") from exc
    if not env.SECRET_KEY and not env.DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (at least 32 characters) unless DEBUG=true; "
            "`make run` keeps the one it generates in DATA_DIR/secret_key, read when SECRET_KEY is unset"
        )
    return env


def default_storage(env: HearthEnv) -> dict:
    """`STORAGES["default"]`: the filesystem under DATA_DIR, or S3 when S3_BUCKET is set."""
    if not env.S3_BUCKET:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options = {"bucket_name": env.S3_BUCKET, "file_overwrite": False, "default_acl": None}
    if env.S3_ENDPOINT_URL:
        options["endpoint_url"] = str(env.S3_ENDPOINT_URL).rstrip("/")
    if env.S3_REGION:
        options["region_name"] = env.S3_REGION
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
