"""Django settings for Hearth. Everything deploy-specific comes from `hosting.env`."""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from hosting.env import BASE_DIR, comma_list, default_storage, load_env

ENV = load_env()

DEBUG = ENV.DEBUG
SECRET_KEY = ENV.SECRET_KEY or "insecure-development-key-only-used-with-DEBUG-true"
ALLOWED_HOSTS = comma_list(ENV.ALLOWED_HOSTS)
PUBLIC_BASE_URL = str(ENV.PUBLIC_BASE_URL).rstrip("/") if ENV.PUBLIC_BASE_URL else None
DATA_DIR = ENV.DATA_DIR

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "billing",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "hosting.middleware.ContentSecurityPolicyMiddleware",
]

# The /v1 API is served with this shorter stack (hosting.asgi.ApiASGIHandler).
API_MIDDLEWARE = ["hosting.middleware.ApiSecurityMiddleware"]

ROOT_URLCONF = "hosting.urls"
ASGI_APPLICATION = "hosting.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# CONN_MAX_AGE stays 0: persistent connections under ASGI leak until Postgres refuses new
# ones. Django's native psycopg pool gives the reuse instead (ARCHITECTURE §11).
DATABASES = {"default": dj_database_url.parse(ENV.DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": ENV.DATABASE_POOL_MAX_SIZE,
        "timeout": 10,
    }
else:
    # SQLite stands in for a single-machine demo only; wait for the worker's writes.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": default_storage(ENV),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Redis, Channels, Celery ------------------------------------------------------------------
REDIS_URL = ENV.REDIS_URL
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True  # Postgres holds results; no result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
_SWEEP_PERIOD = max(5.0, ENV.PREDICTION_HEARTBEAT_SECONDS)
# `beat_period` marks a message as beat's: its task runs once per period however many beat
# schedulers send it (inference/worker/tasks.py `_first_of_period`).
CELERY_BEAT_SCHEDULE = {
    "sweep-lost-predictions": {
        "task": "inference.sweep_lost_predictions",
        "schedule": _SWEEP_PERIOD,
        "options": {"queue": "default", "headers": {"beat_period": _SWEEP_PERIOD}},
    },
    "remove-expired-data": {
        "task": "inference.remove_expired_data",
        "schedule": 60.0,
        "options": {"queue": "default", "headers": {"beat_period": 60.0}},
    },
}
# A prediction's own deadline stops it first; these only catch a wedged task.
CELERY_TASK_SOFT_TIME_LIMIT = ENV.PREDICTION_MAX_RUN_TIME + 60
CELERY_TASK_TIME_LIMIT = ENV.PREDICTION_MAX_RUN_TIME + 120

# --- Hearth ------------------------------------------------------------------------------------
PREDICTION_MAX_RUN_TIME = ENV.PREDICTION_MAX_RUN_TIME
TOKEN_CACHE_SECONDS = ENV.TOKEN_CACHE_SECONDS
MODEL_CACHE_SECONDS = ENV.MODEL_CACHE_SECONDS
RUNTIME_DIR = DATA_DIR / "runtime"
# Each prediction's input and output files while it runs: outside DATA_DIR, so the paths a
# predictor sees (and prints in its errors) are short and say nothing of the platform, as Cog's /tmp/... do.
PREDICTION_SCRATCH_DIR = Path(tempfile.gettempdir()) / "cog"
ENVIRONMENTS_DIR = DATA_DIR / "environments"
UV_CACHE_DIR = DATA_DIR / "uv-cache"
# cog.yaml `weights:` fetched on this machine, one read-only file per sha256 (inference/registry/weights.py).
WEIGHTS_DIR = DATA_DIR / "weights"
WEIGHTS_ALLOWED_NETWORKS = comma_list(ENV.WEIGHTS_ALLOWED_NETWORKS)
WEIGHTS_MAX_BYTES = ENV.WEIGHTS_MAX_BYTES
PACKAGE_INDEX_URL = ENV.PACKAGE_INDEX_URL
PACKAGE_EXTRA_INDEX_URLS = comma_list(ENV.PACKAGE_EXTRA_INDEX_URLS)
PACKAGE_FIND_LINKS = comma_list(ENV.PACKAGE_FIND_LINKS)
PYTHON_INTERPRETERS = comma_list(ENV.PYTHON_INTERPRETERS)
PYTHON_DOWNLOADS = ENV.PYTHON_DOWNLOADS
ENVIRONMENTS_DISK_BUDGET = ENV.ENVIRONMENTS_DISK_BUDGET_MB * 1024**2
ENVIRONMENT_BUILD_TIMEOUT = ENV.ENVIRONMENT_BUILD_TIMEOUT_SECONDS
SYSTEM_PACKAGES = comma_list(ENV.SYSTEM_PACKAGES)
ALLOW_BUILD_RUN = ENV.ALLOW_BUILD_RUN
PREDICTIONS_PAGE_SIZE = ENV.PREDICTIONS_PAGE_SIZE
MAX_WARM_RUNNERS = ENV.MAX_WARM_RUNNERS
RUNNER_MEMORY_BUDGET = ENV.RUNNER_MEMORY_BUDGET_MB * 1024**2 or None
STREAM_KEEPALIVE_SECONDS = ENV.STREAM_KEEPALIVE_SECONDS
PREDICTION_HEARTBEAT_SECONDS = ENV.PREDICTION_HEARTBEAT_SECONDS
WORKER_HARDWARE = comma_list(ENV.WORKER_HARDWARE)
KEEP_WARM_INTERVAL_SECONDS = ENV.KEEP_WARM_INTERVAL_SECONDS
DEPLOYMENT_MAX_INSTANCES = ENV.DEPLOYMENT_MAX_INSTANCES
METRICS_TOKEN = ENV.METRICS_TOKEN
PREDICTION_REQUEUE_SECONDS = ENV.PREDICTION_REQUEUE_SECONDS
PREDICTION_MAX_QUEUE_SECONDS = ENV.PREDICTION_MAX_QUEUE_SECONDS
PREDICTION_CACHE_SECONDS = ENV.PREDICTION_CACHE_SECONDS
FAIR_SHARE_WINDOW_SECONDS = ENV.FAIR_SHARE_WINDOW_SECONDS
MAX_PACKAGE_BYTES = ENV.MAX_PACKAGE_BYTES
WEBHOOK_ALLOWED_NETWORKS = comma_list(ENV.WEBHOOK_ALLOWED_NETWORKS)
WEBHOOK_MAX_RETRIES = ENV.WEBHOOK_MAX_RETRIES
BILLING_RESERVATION_SECONDS = ENV.BILLING_RESERVATION_SECONDS
RATE_LIMIT_CREATE_PER_MINUTE = ENV.RATE_LIMIT_CREATE_PER_MINUTE
RATE_LIMIT_API_PER_MINUTE = ENV.RATE_LIMIT_API_PER_MINUTE
WEBHOOK_RETRY_BASE_SECONDS = ENV.WEBHOOK_RETRY_BASE_SECONDS
FILE_MAX_BYTES = ENV.FILE_MAX_BYTES
UPLOAD_EXPIRY_SECONDS = ENV.UPLOAD_EXPIRY_SECONDS
PREDICTION_DATA_RETENTION_SECONDS = ENV.PREDICTION_DATA_RETENTION_SECONDS
OUTPUT_URL_SECONDS = ENV.OUTPUT_URL_SECONDS
INPUT_URL_ALLOWED_NETWORKS = comma_list(ENV.INPUT_URL_ALLOWED_NETWORKS)
# JSON request bodies (prediction inputs with data: URIs): the JS client inlines files up to
# 10 MB; larger files go through POST /v1/files.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024**2

# --- Browser: Content-Security-Policy ---------------------------------------------------------
# The dashboard's pages load only the site's own scripts and styles (no inline ones). Images,
# audio and video: the site's own, data: URIs (playground outputs, inputs) and output file
# URLs, which are made on PUBLIC_BASE_URL. connect-src 'self' covers the playground's
# websocket (ws/wss to the same host). No page may be framed.
_PUBLIC_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(PUBLIC_BASE_URL)) if PUBLIC_BASE_URL else None
_MEDIA_SOURCES = " ".join(["'self'", "data:", *([_PUBLIC_ORIGIN] if _PUBLIC_ORIGIN else [])])
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {_MEDIA_SOURCES}",
        f"media-src {_MEDIA_SOURCES}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# /v1/docs: Swagger UI from drf-spectacular-sidecar's files under /static (its stylesheet draws
# icons as data: images) and the start-up script static/js/api_docs.js.
API_DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# --- Browser: sessions, CSRF, mail ------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "model-list"
LOGOUT_REDIRECT_URL = "login"
# Cookies go over HTTPS only when the site is served over HTTPS (a plain-http `make run` on
# localhost must still be able to log in). Scripts never need either cookie.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = bool(PUBLIC_BASE_URL and PUBLIC_BASE_URL.startswith("https://"))
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL] if PUBLIC_BASE_URL else []
EMAIL_BACKEND = ENV.EMAIL_BACKEND
EMAIL_HOST = ENV.EMAIL_HOST
EMAIL_PORT = ENV.EMAIL_PORT
EMAIL_HOST_USER = ENV.EMAIL_HOST_USER
EMAIL_HOST_PASSWORD = ENV.EMAIL_HOST_PASSWORD
EMAIL_USE_TLS = ENV.EMAIL_USE_TLS
DEFAULT_FROM_EMAIL = ENV.DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiTokenAuthentication"],
    # ApiTokenAuthentication refuses requests without a valid token, so no permission class is needed.
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON whatever Accept says (no 406), and no `?format=` override (no 404 for an unknown one).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "hosting.negotiation.JsonWhateverTheAccept",
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_PARSER_CLASSES": ["hosting.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "hosting.problems.drf_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Prediction creation is counted in inference.api.predictions (scope "create").
    "DEFAULT_THROTTLE_CLASSES": ["hosting.ratelimit.TokenRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# /v1/openapi.json and /v1/docs, generated by drf-spectacular from the endpoints (hosting.openapi).
SPECTACULAR_SETTINGS = {
    "TITLE": "Hearth HTTP API",
    "DESCRIPTION": "The Replicate-compatible /v1 API of Hearth. Authenticate with `Authorization: Bearer r8_...`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/v1",
    "POSTPROCESSING_HOOKS": ["hosting.openapi.add_shapes"],
    # 3.1: the shapes' schemas are JSON Schema (pydantic), where null is a type.
    "OAS_VERSION": "3.1.0",
    "DISABLE_ERRORS_AND_WARNINGS": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": ENV.LOG_LEVEL},
}
