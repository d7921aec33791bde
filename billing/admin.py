from django.contrib import admin

from billing.models import Hardware


@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price_per_second", "currency"]
    search_fields = ["sku", "name"]
