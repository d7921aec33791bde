from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from accounts import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="model-list"), name="home"),
    path("signup", views.signup, name="signup"),
    path("login", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    # With the trailing slash people type (APPEND_SLASH is off): to the canonical page, query kept.
    path("signup/", RedirectView.as_view(pattern_name="signup", query_string=True)),
    path("login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("password-reset", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/api-tokens", views.token_list, name="token-list"),
    path("account/api-tokens/<int:token_id>/revoke", views.token_revoke, name="token-revoke"),
]
