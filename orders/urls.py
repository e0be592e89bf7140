from __future__ import annotations

from django.urls import path

from orders import views

app_name = "orders"

# Mounted under /w/<slug>/: every view here is scoped to that workspace by `workspace_view`.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", views.order_list, name="list"),
    path("settings/", views.workspace_settings, name="settings"),
]
