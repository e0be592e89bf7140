from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from orders import views as order_views

urlpatterns = [
    path("", order_views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Invited members choose their first password through Django's reset views
    # (orders/members.py sends the link); no public "forgot password" form is mounted.
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("sandbox/", include("sandbox.urls")),
    path("w/<slug:slug>/", include("orders.urls")),
]

handler403 = "orders.views.permission_denied"
handler404 = "orders.views.page_not_found"
handler500 = "orders.views.server_error"
