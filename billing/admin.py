from django.contrib import admin

from billing.models import Hardware, UsageRecord


@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price_per_second", "currency"]
    search_fields = ["sku", "name"]


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["prediction", "account", "model", "hardware", "seconds", "amount", "created_at"]
    list_filter = ["hardware"]
    search_fields = ["prediction__id", "account__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # usage is immutable

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
