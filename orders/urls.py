from __future__ import annotations

from django.urls import path

from orders import (
    builder_views,
    burn_views,
    credentials_views,
    forwarding_views,
    history_views,
    members_views,
    order_template_views,
    persona_views,
    planner_views,
    renewals_views,
    views,
    workflow_views,
)

app_name = "orders"

# Mounted under /w/<slug>/: every view here is scoped to that workspace by `workspace_view`.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", views.order_list, name="list"),
    path("settings/", views.workspace_settings, name="settings"),
    path("settings/key-check/", views.key_check, name="key_check"),
    # --- members (workspace admins) ---
    path("members/", members_views.members_page, name="members"),
    path("members/<int:pk>/", members_views.member_change, name="member_change"),
    path("members/<int:pk>/remove/", members_views.member_remove, name="member_remove"),
    # --- end members ---
    # --- the order builder (drafts) ---
    path("orders/new/", builder_views.order_new, name="new"),
    path("orders/<int:pk>/", builder_views.order_detail, name="detail"),
    path("orders/<int:pk>/build/", builder_views.order_build, name="build"),
    path("orders/<int:pk>/quote/", builder_views.order_quote, name="quote"),
    path("orders/<int:pk>/suggest/", builder_views.order_suggest, name="suggest"),
    path("orders/<int:pk>/check/", builder_views.order_check, name="check"),
    path(
        "orders/<int:pk>/check/<int:check_pk>/",
        builder_views.order_check_status,
        name="check_status",
    ),
    path("orders/<int:pk>/prewarmed/", builder_views.order_prewarmed, name="prewarmed"),
    path("orders/<int:pk>/owned/", builder_views.order_owned, name="owned"),
    path("orders/<int:pk>/csv/", builder_views.order_csv_export, name="csv_export"),
    path(
        "orders/<int:pk>/csv/import/", builder_views.order_csv_import, name="csv_import"
    ),
    path("orders/<int:pk>/submit/", builder_views.order_submit, name="submit"),
    # --- history, spend, exports ---
    # The history page itself is `orders:list` (views.order_list).
    path(
        "orders/export.csv", history_views.order_history_export, name="history_export"
    ),
    # --- end history, spend, exports ---
    # --- approval, submission, fulfilment, cancellation ---
    path("approvals/", workflow_views.approvals, name="approvals"),
    path("approvals/count/", workflow_views.approvals_count, name="approvals_count"),
    path("orders/<int:pk>/approve/", workflow_views.order_approve, name="approve"),
    path("orders/<int:pk>/reject/", workflow_views.order_reject, name="reject"),
    path("orders/<int:pk>/progress/", workflow_views.order_progress, name="progress"),
    path("orders/<int:pk>/resolve/", workflow_views.order_resolve, name="resolve"),
    path("orders/<int:pk>/cancel/", workflow_views.order_cancel, name="cancel"),
    # Forwarding of an owned domain (orders/forwarding_views.py).
    path(
        "domains/<str:domain>/forwarding/",
        forwarding_views.domain_forwarding,
        name="forwarding",
    ),
    # --- end approval, submission, fulfilment, cancellation ---
    # --- renewals: forecast, CSV, cancellations scheduled before a renewal ---
    path("renewals/", renewals_views.renewals_page, name="renewals"),
    path("renewals/export.csv", renewals_views.renewals_export, name="renewals_export"),
    path(
        "renewals/schedule/", renewals_views.renewal_schedule, name="renewal_schedule"
    ),
    path(
        "renewals/<int:pk>/approve/",
        renewals_views.renewal_approve,
        name="renewal_approve",
    ),
    path(
        "renewals/<int:pk>/unschedule/",
        renewals_views.renewal_unschedule,
        name="renewal_unschedule",
    ),
    # --- end renewals ---
    # --- credentials, revealed on purpose and audited (orders/credentials_views.py) ---
    path(
        "orders/<int:pk>/credentials/",
        credentials_views.order_credentials,
        name="credentials",
    ),
    path(
        "orders/<int:pk>/credentials.csv",
        credentials_views.order_credentials_csv,
        name="credentials_csv",
    ),
    # --- end credentials ---
    # --- issue 16: capacity planner ---
    path("plan/", planner_views.planner_page, name="planner"),
    path("plan/draft/", planner_views.planner_create, name="planner_create"),
    # --- end capacity planner ---
    # --- issue 16: persona library ---
    path("personas/", persona_views.personas_page, name="personas"),
    path("personas/<int:pk>/", persona_views.persona_edit, name="persona_edit"),
    path(
        "personas/<int:pk>/delete/",
        persona_views.persona_delete,
        name="persona_delete",
    ),
    path("personas/import/", persona_views.personas_import, name="personas_import"),
    path("personas/export.csv", persona_views.personas_export, name="personas_export"),
    # --- end persona library ---
    # --- issue 16: burned domains, templates and "order again" ---
    path(
        "orders/<int:pk>/domains/<int:item_pk>/burn/",
        burn_views.domain_burn,
        name="domain_burn",
    ),
    # Templates and "order again" (orders/order_template_views.py).
    path("templates/", order_template_views.templates_page, name="templates"),
    path(
        "templates/<int:pk>/draft/",
        order_template_views.template_draft,
        name="template_draft",
    ),
    path(
        "templates/<int:pk>/delete/",
        order_template_views.template_delete,
        name="template_delete",
    ),
    path(
        "orders/<int:pk>/save-template/",
        order_template_views.template_save,
        name="template_save",
    ),
    path(
        "orders/<int:pk>/again/", order_template_views.order_again, name="order_again"
    ),
    # --- end burned domains, templates ---
]
