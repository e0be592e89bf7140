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
    path("admin/", admin.site.urls),
    path("sandbox/", include("sandbox.urls")),
    path("w/<slug:slug>/", include("orders.urls")),
]

handler403 = "orders.views.permission_denied"
handler404 = "orders.views.page_not_found"
handler500 = "orders.views.server_error"
