"""Browser pages of the accounts app: sign-up and API tokens. Login, logout and password
reset are Django's own views (accounts/urls.py) with our templates."""

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import SignupForm, TokenCreateForm

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """An annotation only (django-stubs' recipe): the request a view behind @login_required
    gets, whose user is signed in."""

    user: "User"


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("model-list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, _account = services.user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Hearth, {user.username}. Create an API token to use the API.")
        return redirect("token-list")
    return render(request, "registration/signup.html", {"form": form}, status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET lists tokens; POST creates one and shows its plaintext in this response only."""
    account = services.personal_account_for(user=request.user)
    form = TokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        token, plaintext = services.token_create(
            account=account, name=form.cleaned_data["name"], created_by=request.user
        )
        created = {"token": token, "plaintext": plaintext}
        form = TokenCreateForm()
    context = {"form": form, "tokens": selectors.token_list(account=account), "created": created, "account": account}
    # The page with a plaintext token is never cached, by the browser or anything in between.
    response = render(request, "accounts/token_list.html", context, status=422 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = selectors.token_get(account=services.personal_account_for(user=request.user), token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    services.token_revoke(token=token)
    messages.success(request, f"Revoked “{token.name or token.prefix}”. It stops working within seconds.")
    return redirect("token-list")
