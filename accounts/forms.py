import re

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Account

# First path segments the site itself uses: an account with one of these names would have
# model pages (/<owner>/<name>) that the site's own pages shadow.
RESERVED_USERNAMES = frozenset(
    {
        "account",
        "accounts",
        "admin",
        "api",
        "deployments",
        "docs",
        "login",
        "logout",
        "media",
        "metrics",
        "models",
        "openai",  # /openai/v1: the OpenAI-compatible API
        "p",
        "password-reset",
        "predictions",
        "reset",
        "signup",
        "static",
        "trainings",
        "usage",
        "v1",
        "ws",
    }
)

# Account.username is a SlugField, lower-cased so owner/name reads the same everywhere.
_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="For password resets. Never shown to others.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")
        help_texts = {"username": "Your namespace: your models are username/model-name."}

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username") or ""
        if not _NAMESPACE.fullmatch(username):
            raise forms.ValidationError("Use only lowercase letters, digits, hyphens and underscores.")
        if username in RESERVED_USERNAMES:
            raise forms.ValidationError("That name is reserved. Please pick another.")
        if Account.objects.filter(username=username).exists():
            raise forms.ValidationError("That name is taken. Please pick another.")
        return super().clean_username()  # also refuses names that differ only in case


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where you will use it, e.g. “laptop” or “CI”.")
