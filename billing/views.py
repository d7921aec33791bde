"""The usage page: month-to-date spend against the limit, per day and per model, and the
self-hosting breakeven per SKU over the last 30 days."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from accounts.services import personal_account_for, spending_limit_set
from billing import selectors
from billing.breakeven import MONTH_DAYS, WINDOW_DAYS, account_breakeven
from billing.breakeven_chart import breakeven_chart
from billing.forms import SpendingLimitForm


def _is_owner(account, user) -> bool:
    return Membership.objects.filter(account=account, user=user, role=Membership.Role.OWNER).exists()


def _chart_data(summary: dict) -> dict:
    """Plain JSON for the page's chart script (Decimals as numbers are fine for drawing)."""
    return {
        "currency": summary["currency"],
        "days": [
            {
                "date": day["date"].isoformat(),
                "amount": float(day["amount"]),
                "seconds": float(day["seconds"]),
                "predictions": day["predictions"],
            }
            for day in summary["by_day"]
        ],
        "models": [
            {"model": row["model"], "seconds": float(row["seconds"]), "amount": float(row["amount"])}
            for row in summary["by_model"]
        ],
    }


@login_required
@require_http_methods(["GET", "POST"])
def usage(request: HttpRequest) -> HttpResponse:
    account = personal_account_for(user=request.user)
    is_owner = _is_owner(account, request.user)
    form = SpendingLimitForm(request.POST or None, initial={"spending_limit": account.spending_limit})
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied("Only the account's owner may change its spending limit.")
        if form.is_valid():
            spending_limit_set(account=account, limit=form.cleaned_data["spending_limit"])
            messages.success(request, "Spending limit saved.")
            return redirect("usage")
    now = timezone.now()
    summary = selectors.usage_summary(account=account, now=now)
    breakeven = account_breakeven(account=account, now=now)
    limit = summary["spending_limit"]
    context = {
        "account": account,
        "summary": summary,
        "chart": _chart_data(summary),
        "form": form,
        "is_owner": is_owner,
        "total_seconds": sum((row["seconds"] for row in summary["by_model"]), 0),
        "total_predictions": sum(row["predictions"] for row in summary["by_model"]),
        "percent_of_limit": min(100, round(summary["month_to_date_spend"] / limit * 100)) if limit else None,
        "breakeven": breakeven,
        "breakeven_rows": [(sku, breakeven_chart(sku)) for sku in breakeven.skus],
        "window_days": WINDOW_DAYS,
        "month_days": MONTH_DAYS,
    }
    return render(request, "billing/usage.html", context, status=422 if form.errors else 200)
