"""The operator console for billing: prices, usage, credit, and the stops on models.

`AccountBillingMixin`, `DisabledModelInline` and `DisabledVersionInline` are used by the
account and model admins of the other apps.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.response import SimpleTemplateResponse, TemplateResponse

from accounts.admin import AccountAdmin
from accounts.models import Account
from billing.models import CreditGrant, DisabledModel, DisabledVersion, Hardware, UsageRecord
from billing.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from billing.services import credit_grant, month_start


@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    """Prices per second, and the monthly price of a reserved machine that the usage page weighs
    them against (billing/breakeven.py): empty unless the operator offers one."""

    list_display = ["sku", "name", "price_per_second", "reserved_monthly_price", "currency"]
    list_editable = ["price_per_second", "reserved_monthly_price"]
    search_fields = ["sku", "name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    """Usage is immutable; the list shows the totals of whatever the filters select."""

    list_display = ["prediction", "account", "model", "hardware", "seconds", "price_per_second", "amount", "created_at"]
    list_filter = [
        "hardware",
        ("account", admin.RelatedOnlyFieldListFilter),
        ("model", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["account", "model__owner", "hardware"]
    search_fields = ["prediction__id", "account__username", "model__name"]
    date_hierarchy = "created_at"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # The list page (not a redirect or an error page), not yet rendered: its context can grow.
        if isinstance(response, SimpleTemplateResponse) and response.context_data is not None:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                response.context_data["usage_totals"] = changelist.queryset.aggregate(
                    seconds=Sum("seconds"), amount=Sum("amount")
                )
        return response


@admin.register(CreditGrant)
class CreditGrantAdmin(ReadOnlyAdmin):
    """The credit ledger. Grants are made with the "Add prepaid credit" action on accounts."""

    list_display = ["account", "amount", "note", "granted_by", "created_at"]
    list_filter = [("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["account__username", "note"]
    date_hierarchy = "created_at"


class CreditGrantInline(admin.TabularInline):
    model = CreditGrant
    extra = 0
    can_delete = False
    fields = ("created_at", "amount", "note", "granted_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AddCreditForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        min_value=Decimal("0.000001"),
        help_text="US dollars added to each selected account's prepaid balance.",
    )
    note = forms.CharField(max_length=200, required=False)


@admin.action(description="Add prepaid credit to selected accounts")
def add_credit(modeladmin, request, queryset):
    """Asks for an amount on an intermediate page, then records one grant per account."""
    form = AddCreditForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        for account in queryset:
            credit_grant(
                account=account,
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
                granted_by=request.user,
            )
        modeladmin.message_user(
            request, f"Added ${form.cleaned_data['amount']} of credit to {len(queryset)} account(s).", messages.SUCCESS
        )
        return None  # back to the list
    return TemplateResponse(
        request,
        "admin/billing/add_credit.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Add prepaid credit",
            "opts": modeladmin.model._meta,
            "form": form,
            "accounts": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


class AccountBillingMixin(admin.ModelAdmin):
    """For the account admin: this month's spend beside the limit and credit, and the action
    that adds credit (`CreditGrantInline` shows the ledger). A ModelAdmin itself so that its
    `super()` calls and `actions` type-check; the MRO of `AccountWithBillingAdmin` is the same."""

    actions = [add_credit]

    def get_queryset(self, request):
        spend = (
            UsageRecord.objects.filter(account=OuterRef("pk"), created_at__gte=month_start())
            .values("account")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        money = DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
        return (
            super()
            .get_queryset(request)
            .annotate(month_spend=Coalesce(Subquery(spend, output_field=money), Decimal(0), output_field=money))
        )

    @admin.display(description="Spend this month", ordering="month_spend")
    def month_to_date_spend(self, account) -> Decimal:
        return account.month_spend


# Billing extends the accounts app's admin rather than accounts importing billing: imports go
# one way (billing -> accounts), and billing is installed after accounts, so this runs second.
class AccountWithBillingAdmin(AccountBillingMixin, AccountAdmin):
    list_display = ["username", "name", "kind", "month_to_date_spend", "spending_limit", "credit", "created_at"]
    list_editable = ["spending_limit"]
    inlines = [*AccountAdmin.inlines, CreditGrantInline]


admin.site.unregister(Account)
admin.site.register(Account, AccountWithBillingAdmin)


class _DisabledInline(admin.StackedInline):
    """Add a row to disable the model (or version) for new predictions; delete it to enable it again."""

    extra = 0
    max_num = 1
    verbose_name = verbose_name_plural = "Disabled (refuses new predictions)"
    fields = ["reason", "created_at"]
    readonly_fields = ["created_at"]


class DisabledModelInline(_DisabledInline):
    model = DisabledModel


class DisabledVersionInline(_DisabledInline):
    model = DisabledVersion


def _set_disabled(queryset, stop_model, field: str, *, disabled: bool) -> int:
    if not disabled:
        return stop_model.objects.filter(**{f"{field}__in": queryset}).delete()[0]
    already = set(stop_model.objects.filter(**{f"{field}__in": queryset}).values_list(f"{field}_id", flat=True))
    fresh = [stop_model(**{field: obj}, reason="Disabled from the admin") for obj in queryset if obj.pk not in already]
    stop_model.objects.bulk_create(fresh)
    return len(fresh)


def _stop_model(queryset):
    return (DisabledModel, "model") if queryset.model._meta.model_name == "model" else (DisabledVersion, "version")


@admin.action(description="Disable selected (refuse new predictions)")
def disable(modeladmin, request, queryset):
    count = _set_disabled(queryset, *_stop_model(queryset), disabled=True)
    modeladmin.message_user(request, f"Disabled {count}.", messages.SUCCESS)


@admin.action(description="Enable selected")
def enable(modeladmin, request, queryset):
    count = _set_disabled(queryset, *_stop_model(queryset), disabled=False)
    modeladmin.message_user(request, f"Enabled {count}.", messages.SUCCESS)


@admin.display(boolean=True, description="Disabled")
def is_disabled(obj) -> bool:
    return hasattr(obj, "disabled")
