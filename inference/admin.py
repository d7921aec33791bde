from django.contrib import admin

from billing.admin import DisabledModelInline, DisabledVersionInline, disable, enable, is_disabled
from inference.models import (
    Collection,
    Deployment,
    DeploymentRelease,
    File,
    Model,
    Prediction,
    Version,
    WebhookDelivery,
)


class VersionInline(admin.TabularInline):
    model = Version
    extra = 0
    fields = ("sha256", "cog_version", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["__str__", "visibility", "hardware", is_disabled, "run_count", "created_at"]
    list_editable = ["visibility", "hardware"]
    list_filter = ["visibility", "hardware", ("disabled", admin.EmptyFieldListFilter)]
    list_select_related = ["owner", "hardware", "disabled"]
    search_fields = ["name", "owner__username"]
    # default_example: a select of every prediction would load them all into the page.
    raw_id_fields = ["owner", "latest_version", "default_example"]
    inlines = [DisabledModelInline, VersionInline]
    actions = [disable, enable]


@admin.register(Version)
class VersionAdmin(admin.ModelAdmin):
    list_display = ["sha256", "model", is_disabled, "cog_version", "python", "runs_in", "created_at"]
    list_select_related = ["model__owner", "disabled"]
    search_fields = ["sha256", "model__name"]
    inlines = [DisabledVersionInline]
    actions = [disable, enable]
    readonly_fields = [
        "model",
        "sha256",
        "predictor_ref",
        "openapi_schema",
        "cog_version",
        "config",
        "environment",
        "build_log",
        "package",
    ]

    @admin.display(description="Python")
    def python(self, version: Version) -> str:
        return version.environment.get("python", "")

    @admin.display(description="Environment")
    def runs_in(self, version: Version) -> str:
        return version.environment.get("runs_in", "platform")


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ("created_at", "event", "attempt", "message_id", "status_code", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    inlines = [WebhookDeliveryInline]
    list_display = ["id", "kind", "model", "account", "status", "source", "created_at", "completed_at"]
    list_filter = [
        "status",
        "kind",  # trainings are predictions of kind training
        ("model", admin.RelatedOnlyFieldListFilter),
        ("account", admin.RelatedOnlyFieldListFilter),
        "source",
    ]
    list_select_related = ["model__owner", "account"]
    search_fields = ["id", "account__username", "model__name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # usage records point at predictions; the history stays


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "account", "kind", "size", "created_at", "expires_at"]
    list_filter = ["kind"]
    search_fields = ["id", "name", "account__username"]
    raw_id_fields = ["account", "prediction"]
    readonly_fields = ["kind", "size", "sha256", "md5", "content", "prediction"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    """Operators curate collections here; each caller sees only the models they may see."""

    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["models"]


class DeploymentReleaseInline(admin.TabularInline):
    """The release history, read-only: releases are made through the API or the dashboard."""

    model = DeploymentRelease
    extra = 0
    fields = ("number", "version", "hardware", "min_instances", "max_instances", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "current_release", "created_at"]
    list_select_related = ["owner", "current_release"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["owner", "name", "current_release", "created_at"]
    inlines = [DeploymentReleaseInline]
