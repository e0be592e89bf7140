"""Admin pages for workspaces, their members and their Instantly keys.

Workspaces and memberships are edited here (the portal's model validation applies); keys
never are, past their label: the secret is typed once on the workspace settings page and
encrypted, and these pages show only its mask (`KeyDisplay.masked`).
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from orders.admin.common import ViewOnlyMixin
from orders.history_table import money_text
from orders.models import InstantlyKey, Membership, PendingInstantlyKey, Workspace


class MembershipInline(admin.TabularInline[Membership, Workspace]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = [
        "name",
        "slug",
        "approval_policy",
        "threshold",
        "budget",
        "created_at",
    ]
    list_filter = ["approval_policy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [MembershipInline]

    @admin.display(description="Approval threshold", ordering="approval_threshold")
    def threshold(self, obj: Workspace) -> str:
        return money_text(obj.approval_threshold)

    @admin.display(description="Monthly budget", ordering="monthly_budget")
    def budget(self, obj: Workspace) -> str:
        return money_text(obj.monthly_budget)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "workspace", "role", "limit", "created_at"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]

    @admin.display(description="Approval limit", ordering="approval_limit")
    def limit(self, obj: Membership) -> str:
        return money_text(obj.approval_limit)


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


PENDING_KEY_FIELDS = (
    "workspace",
    "label",
    "masked",
    "base_url",
    "status",
    "outcome",
    "status_detail",
    "created_by",
    "created_at",
    "finished_at",
)


@admin.register(PendingInstantlyKey)
class PendingInstantlyKeyAdmin(ViewOnlyMixin, admin.ModelAdmin[PendingInstantlyKey]):
    """Pasted keys and what their verification found, read-only: only the mask is shown,
    never the secret (erased anyway once the attempt ends)."""

    list_display = [
        "workspace",
        "label",
        "masked",
        "status",
        "outcome",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "outcome"]
    list_select_related = ["workspace", "created_by"]
    search_fields = ["workspace__name", "label"]
    fields = PENDING_KEY_FIELDS
    readonly_fields = PENDING_KEY_FIELDS

    def get_queryset(
        self, request: HttpRequest
    ) -> models.QuerySet[PendingInstantlyKey]:
        # The encrypted secret is never shown: it is not even read.
        return super().get_queryset(request).defer("secret_encrypted")

    @admin.display(description="Key")
    def masked(self, obj: PendingInstantlyKey) -> str:
        return obj.masked
