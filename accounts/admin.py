from django.contrib import admin, messages
from django.utils import timezone

from accounts.models import Account, ApiToken, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    # billing/admin.py registers a subclass in its place that adds spend, limit and credit.
    list_display = ["username", "name", "kind", "created_at"]
    search_fields = ["username", "name"]
    list_filter = ["kind"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "account", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "account__username"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        # Tokens are issued by the sign-up flow or `createuser`, which show the plaintext once.
        return False
