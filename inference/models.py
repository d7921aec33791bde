from functools import cached_property
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.db import models
from django.utils.text import get_valid_filename

from accounts.models import Account
from billing.models import Hardware
from hosting.ids import new_public_id
from inference.runtime.validation import InputValidator


class OpenAIApi(models.TextChoices):
    """What a model declares itself to OpenAI's clients (`Model.openai_api`)."""

    NONE = "", "none"
    CHAT = "chat", "chat and completions"
    EMBEDDINGS = "embeddings", "embeddings"


class Model(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public"
        PRIVATE = "private"

    owner = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="models")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    readme = models.TextField(blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    hardware = models.ForeignKey(Hardware, on_delete=models.PROTECT, related_name="models")
    github_url = models.URLField(blank=True)
    paper_url = models.URLField(blank=True)
    license_url = models.URLField(blank=True)
    cover_image_url = models.URLField(blank=True)
    # An image the platform serves itself at /<owner>/<name>/cover (the pages' CSP allows only
    # their own origin and data: images, so an external cover_image_url cannot show there).
    cover_image = models.FileField(upload_to="covers/", blank=True)
    # A prediction of this model whose input and output its page and `default_example` show.
    default_example = models.ForeignKey(
        "Prediction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Runs tiny random demo weights (`make run` without HEARTH_*_MODEL): its pages say so, so
    # that its nonsense output is not taken for a broken product.
    demo_weights = models.BooleanField(default=False)
    latest_version = models.ForeignKey("Version", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Which OpenAI-compatible endpoints (/openai/v1, inference/openai_compat) serve it, as its
    # owner declares: none, chat (and completions) for a language model that takes `prompt`, or
    # embeddings for one that takes a list of `texts`. Set from catalogue.json, POST /v1/models
    # or the admin.
    openai_api = models.CharField(max_length=16, choices=OpenAIApi.choices, blank=True, default=OpenAIApi.NONE)
    run_count = models.PositiveBigIntegerField(default=0)
    # Seconds a worker keeps an idle runner loaded; keep_warm pins it until memory is needed.
    idle_timeout = models.PositiveIntegerField(default=60)
    keep_warm = models.BooleanField(default=False)

    class CachePolicy(models.TextChoices):
        """When a prediction's output may answer the same input again (inference/prediction_cache.py)."""

        OFF = "off", "Never"
        SEEDED = "seeded", "When the caller sets the seed input"
        DETERMINISTIC = "deterministic", "Always: the same input always gives the same output"

    cache_policy = models.CharField(max_length=16, choices=CachePolicy.choices, default=CachePolicy.OFF)
    # A public model's cached outputs answer every account, not only the one that asked first.
    cache_shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name_per_owner")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.owner.username}/{self.name}"


class Collection(models.Model):
    """A curated list of models (`GET /v1/collections`), kept by operators in the Django admin.
    Who sees which of its models is decided per request: a private model shows only to its owner."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Last: from here on in the class body, `models` is this field, not django.db.models.
    models = models.ManyToManyField(Model, blank=True, related_name="collections")

    class Meta:
        # Newest first with a unique tiebreaker: the order cursor pages need.
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.slug


class Version(models.Model):
    """An immutable model package. Its public id is the SHA-256 of the package archive."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    sha256 = models.CharField(max_length=64, db_index=True)
    predictor_ref = models.CharField(max_length=200)
    openapi_schema = models.JSONField()
    cog_version = models.CharField(max_length=32)
    # Runtime settings read from cog.yaml at push time (concurrency, environment, ...).
    config = models.JSONField(default=dict, blank=True)
    # The Python environment resolved at push (inference.registry.resolution): Python version,
    # exact packages, and whether it runs in the platform's environment or its own.
    environment = models.JSONField(default=dict, blank=True)
    # What resolving and building printed at push, shown on the version page.
    build_log = models.TextField(blank=True, default="")
    package = models.FileField(upload_to="packages/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "sha256"], name="unique_version_per_model")]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.model_id}:{self.sha256[:12]}"

    @cached_property
    def input_validator(self) -> InputValidator:
        # Compiled once per instance and dropped with it. The hot paths hold a version for
        # MODEL_CACHE_SECONDS and then load a fresh one (a new schema dict); the id()-keyed
        # `compile_input_validator` cache kept every such copy alive, up to 256 of them per process.
        return InputValidator(self.openapi_schema)

    @cached_property
    def training_input_validator(self) -> InputValidator:
        """Checks a training's input: the schema's TrainingInput (cog.yaml `train:`)."""
        return InputValidator(self.openapi_schema, component="TrainingInput")

    @property
    def trainable(self) -> bool:
        """Whether its cog.yaml names a `train:` entry point (its schema has TrainingInput)."""
        components = self.openapi_schema.get("components", {}).get("schemas", {})
        return "train" in self.config and "TrainingInput" in components


class Prediction(models.Model):
    class Status(models.TextChoices):
        STARTING = "starting"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"
        # Its Cancel-After deadline passed before it started running (queued or booting): it
        # ended without running and is not billed. Clients that predate this status see
        # `canceled` (inference/api/deadlines.py `as_seen_by`).
        ABORTED = "aborted"

    TERMINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.ABORTED})

    class Source(models.TextChoices):
        API = "api"
        WEB = "web"

    class Kind(models.TextChoices):
        PREDICTION = "prediction"
        # cog.yaml `train:` run on a version (inference/trainings): /v1/trainings, not /v1/predictions.
        TRAINING = "training"

    id = models.CharField(primary_key=True, max_length=26, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="predictions")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="predictions")
    # The SKU it is queued on and billed for: its model's, or its deployment release's.
    hardware = models.ForeignKey(Hardware, on_delete=models.PROTECT, related_name="predictions")
    # Made through POST /v1/deployments/{owner}/{name}/predictions; kept when the deployment goes.
    deployment = models.ForeignKey(
        "Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PREDICTION)
    # A training's: the caller's model its weights become a version of, and that version once made.
    destination = models.ForeignKey(
        Model, null=True, blank=True, on_delete=models.SET_NULL, related_name="trainings_into"
    )
    trained_version = models.ForeignKey(
        Version, null=True, blank=True, on_delete=models.SET_NULL, related_name="trainings"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTING)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    input = models.JSONField(default=dict)
    output = models.JSONField(null=True, blank=True)
    logs = models.TextField(blank=True, default="")
    error = models.TextField(null=True, blank=True)  # noqa: DJ001 -- the API tells "no error" (null) from ""
    metrics = models.JSONField(default=dict, blank=True)
    webhook = models.URLField(max_length=2000, blank=True)
    webhook_events_filter = models.JSONField(default=list, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    # Seconds of run time held against the account's spending limit or credit, for accounts that
    # have either (null otherwise): it grows while the prediction runs, and the charge never
    # passes it (billing.services, inference.worker.spending).
    reserved_seconds = models.PositiveIntegerField(null=True, blank=True)
    data_removed = models.BooleanField(default=False)
    # Set when the caller asked for the cache and the model allows it: once this prediction
    # succeeds, its output answers the same key (inference/prediction_cache.py).
    cache_key = models.CharField(max_length=100, blank=True, default="")
    # A prediction answered from the cache: the one whose output it carries.
    cached_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # How many times a worker claimed it: more than one means a worker died running it.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="prediction_account_recent"),
            # GET /v1/trainings: trainings are few among predictions, so a small partial index.
            models.Index(
                fields=["account", "-created_at", "-id"],
                condition=models.Q(kind="training"),
                name="training_account_recent",
            ),
            # The fair claim (inference/worker/records.py): what waits on a SKU, oldest first,
            # and what each account started on it lately.
            models.Index(
                fields=["hardware", "created_at"], condition=models.Q(status="starting"), name="prediction_waiting"
            ),
            models.Index(fields=["account", "hardware", "started_at"], name="prediction_account_started"),
        ]

    def __str__(self) -> str:
        return self.id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.hardware_id is None and self.model_id is not None:  # a prediction runs on its model's SKU
            self.hardware_id = self.model.hardware_id
        super().save(*args, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    @property
    def is_training(self) -> bool:
        return self.kind == self.Kind.TRAINING


class WebhookDelivery(models.Model):
    """One attempt to deliver one webhook event; retries of an event share its `message_id`."""

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=16)
    message_id = models.CharField(max_length=64, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    url = models.URLField(max_length=2000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event} webhook {self.message_id} (attempt {self.attempt})"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _file_storage_name(file: "File", filename: str) -> str:
    try:
        safe = get_valid_filename(filename)
    except SuspiciousFileOperation:  # nothing usable left of the name ("??")
        safe = "file"
    return f"files/{file.id}/{safe}"


class File(models.Model):
    """Bytes in the default storage: an upload (POST /v1/files) or a prediction's output file.

    `name` is the original file name, shown to people and given to predictors; the storage
    name is derived from it but made safe by the storage backend."""

    class Kind(models.TextChoices):
        UPLOAD = "upload"
        OUTPUT = "output"

    id = models.CharField(primary_key=True, max_length=26, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="files")
    prediction = models.ForeignKey(
        Prediction, null=True, blank=True, on_delete=models.CASCADE, related_name="output_files"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32)
    metadata = models.JSONField(default=dict, blank=True)
    content = models.FileField(upload_to=_file_storage_name, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed by the retention task after this; None: kept (outputs of web predictions).
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["account", "kind", "-created_at", "-id"], name="file_account_recent")]

    def __str__(self) -> str:
        return f"{self.id} ({self.name})"


class Deployment(models.Model):
    """A stable name (`owner/name`) that runs a version on a hardware SKU, with instances kept
    warm (`min_instances`) and capped (`max_instances`). What it runs is its current release;
    every change makes a new release, and the old ones stay as history."""

    owner = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="deployments")
    name = models.SlugField(max_length=100)
    current_release = models.ForeignKey(
        "DeploymentRelease", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Every prediction through it asks for the cache, as `Prefer: cache` does for one.
    cache_predictions = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_deployment_name_per_owner")]
        # Newest first with a unique tiebreaker: the order cursor pages need.
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.owner.username}/{self.name}"


class DeploymentRelease(models.Model):
    """One configuration of a deployment, numbered from 1; never changed once made."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="releases")
    number = models.PositiveIntegerField()
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="deployment_releases")
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="deployment_releases")
    hardware = models.ForeignKey(Hardware, on_delete=models.PROTECT, related_name="deployment_releases")
    min_instances = models.PositiveSmallIntegerField()
    max_instances = models.PositiveSmallIntegerField()
    created_by = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deployment_releases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "number"], name="unique_release_number"),
            models.CheckConstraint(
                condition=models.Q(min_instances__lte=models.F("max_instances")), name="release_min_within_max"
            ),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.deployment_id} release {self.number}"
