from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from orders.models import InstantlyKey, Membership, Workspace


class MembershipInline(admin.TabularInline[Membership, Workspace]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = ["name", "slug", "approval_policy", "monthly_budget", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "workspace", "role", "approval_limit"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(InstantlyKey)
class InstantlyKeyAdmin(admin.ModelAdmin[InstantlyKey]):
    """Keys are set from the workspace settings page, where the secret is typed once and
    encrypted; here staff see only the mask and the verification state."""

    list_display = [
        "workspace",
        "label",
        "masked",
        "base_url",
        "status",
        "last_verified_at",
    ]
    list_filter = ["status"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "label"]
    fields = [
        "workspace",
        "label",
        "masked",
        "base_url",
        "status",
        "status_detail",
        "last_verified_at",
        "updated_by",
        "updated_at",
    ]
    readonly_fields = [
        "workspace",
        "masked",
        "base_url",
        "status",
        "status_detail",
        "last_verified_at",
        "updated_by",
        "updated_at",
    ]

    @admin.display(description="Key")
    def masked(self, obj: InstantlyKey) -> str:
        return obj.masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
