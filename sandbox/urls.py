from __future__ import annotations

from django.urls import URLPattern

app_name = "sandbox"

urlpatterns: list[URLPattern] = []
