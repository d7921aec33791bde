from django import forms

from billing.money import AMOUNT_MAX_DIGITS


class SpendingLimitForm(forms.Form):
    spending_limit = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=2,
        label="Monthly spending limit",
        help_text="Leave empty for no limit. New predictions are refused once this month's spend reaches it.",
    )
