"""Django admin: smoke tests, search and filters, actions through the portal's services, and
that money, quotes and events can never be changed or deleted there."""

from __future__ import annotations

import csv
import io
import logging
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from orders.models import Membership, Order, OrderEvent, Quote, Workspace
from tests import task_capture
from tests.factories import MembershipFactory, UserFactory
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3


@pytest.fixture
def order(workspace, operator, lead):
    made = make_order(
        workspace,
        operator,
        status="ready",
        title="Spring push",
        approver=lead,
        items=[
            ("brightleads.com", GOOGLE, ["anna", "ben"]),
            ("northreach.com", MICROSOFT, ["carla"]),
        ],
        due_now="55.00",
        per_month="30.00",
        per_year="30.00",
        created_at=aware(2026, 4, 2),
    )
    OrderEvent.objects.create(
        order=made, kind="created", to_status="draft", detail={"via": "test"}
    )
    return made


def changelist(**params):
    from urllib.parse import urlencode

    base = reverse("admin:orders_order_changelist")
    return f"{base}?{urlencode(params)}" if params else base


def ordered(response) -> list[int]:
    """Order ids in the change list, in page order."""
    return [
        int(pk)
        for pk in re.findall(
            r'name="_selected_action" value="(\d+)"', response.content.decode()
        )
    ]


def listed(response) -> set[int]:
    return set(ordered(response))


@pytest.mark.parametrize(
    "name",
    ["order", "orderevent", "quote", "workspace", "membership", "instantlykey"],
)
def test_every_changelist_opens(staff_client, order, name):
    response = staff_client.get(reverse(f"admin:orders_{name}_changelist"))

    assert response.status_code == 200


def test_order_changelist_shows_the_columns(staff_client, order):
    html = staff_client.get(changelist()).content.decode()

    for text in (
        "Spring push",
        "Acme",
        "New domains (DFY)",
        "Ready",
        "olivia",
        "leo",
        "55.00",
        "30.00",
    ):
        assert text in html


@pytest.mark.parametrize(
    "term",
    [
        "brightleads",
        "anna@brightleads.com",
        "CARLA@northreach.com",
        "olivia",
        "olivia@example.test",
        "Spring",
    ],
)
def test_search_by_domain_mailbox_address_or_requester(
    staff_client, order, workspace, lead, term
):
    make_order(
        workspace, lead, title="Other", items=[("elsewhere.com", AIRMAIL, ["zed"])]
    )

    response = staff_client.get(changelist(q=term))

    assert listed(response) == {order.pk}


def test_search_by_order_number(staff_client, order):
    assert listed(staff_client.get(changelist(q=f"#{order.pk}"))) == {order.pk}


def test_search_by_submission_attempt_id(staff_client, order, workspace, lead):
    make_order(workspace, lead, title="Other")
    Order.objects.filter(pk=order.pk).update(
        submission_attempt_id="0b7e6a52-1c1d-4f4e-9a57-3c2d1e0f9a8b"
    )

    found = staff_client.get(changelist(q="0B7E6A52-1C1D-4F4E-9A57-3C2D1E0F9A8B"))

    assert listed(found) == {order.pk}


def test_search_needs_every_word(staff_client, order, workspace, lead):
    make_order(workspace, lead, title="Spring sale")

    assert listed(staff_client.get(changelist(q="spring olivia"))) == {order.pk}
    assert listed(staff_client.get(changelist(q='"spring push"'))) == {order.pk}


def test_row_checkbox_is_djangos(order):
    model_admin = admin.site._registry[Order]

    assert model_admin.action_checkbox(order) == admin.ModelAdmin.action_checkbox(
        model_admin, order
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "ready"}, {"order"}),
        ({"status__exact": "failed"}, {"failed"}),
        ({"order_type__exact": "extra_accounts"}, {"failed"}),
        ({"provider": str(MICROSOFT)}, {"order"}),
        ({"provider": str(AIRMAIL)}, {"failed"}),
        ({"created_at__year": "2026", "created_at__month": "4"}, {"order"}),
    ],
)
def test_filters(staff_client, order, workspace, operator, params, expected):
    failed = make_order(
        workspace,
        operator,
        status="failed",
        order_type="extra_accounts",
        items=[("swift.com", AIRMAIL, ["x"])],
        created_at=aware(2026, 5, 5),
    )
    names = {"order": order.pk, "failed": failed.pk}

    assert listed(staff_client.get(changelist(**params))) == {
        names[n] for n in expected
    }


def test_workspace_filter(staff_client, order, other_workspace):
    theirs = make_order(other_workspace, UserFactory(username="stranger"))

    response = staff_client.get(changelist(workspace__id__exact=other_workspace.pk))

    assert listed(response) == {theirs.pk}


def test_order_page_shows_items_mailboxes_quotes_and_events_read_only(
    staff_client, order
):
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "View order" in html
    assert "anna@brightleads.com" in html
    assert "northreach.com" in html
    assert "Event timeline" in html
    assert "55.00" in html
    assert (
        "<input"
        not in re.sub(
            r'<input type="hidden"[^>]*>', "", html.split('id="order_form"')[1]
        ).split("</form>")[0]
    )


def test_nobody_can_add_change_or_delete_orders_here(staff_client, order):
    change_url = reverse("admin:orders_order_change", args=[order.pk])

    add = staff_client.get(reverse("admin:orders_order_add"))
    post = staff_client.post(change_url, {"title": "Renamed", "status": "draft"})
    delete = staff_client.post(
        reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"}
    )

    order.refresh_from_db()
    assert add.status_code == 403
    assert post.status_code == 403
    assert delete.status_code == 403
    assert (order.title, order.status) == ("Spring push", "ready")


def test_money_and_quotes_cannot_be_changed_or_deleted(staff_client, order):
    quote = order.approved_quote
    change_url = reverse("admin:orders_quote_change", args=[quote.pk])

    page = staff_client.get(change_url)
    post = staff_client.post(
        change_url,
        {"due_now": "0.01", "per_month": "0.01", "per_year": "0.01", "is_valid": "on"},
    )
    delete = staff_client.post(
        reverse("admin:orders_quote_delete", args=[quote.pk]), {"post": "yes"}
    )
    add = staff_client.get(reverse("admin:orders_quote_add"))

    quote.refresh_from_db()
    assert page.status_code == 200
    assert 'name="due_now"' not in page.content.decode()
    assert (post.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert (quote.due_now, quote.per_month, quote.per_year) == (
        Decimal("55.00"),
        Decimal("30.00"),
        Decimal("30.00"),
    )


def test_events_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    staff_client, order
):
    event = order.events.get()
    change_url = reverse("admin:orders_orderevent_change", args=[event.pk])

    view = staff_client.get(change_url)
    post = staff_client.post(change_url, {"kind": "forged", "to_status": "ready"})
    delete = staff_client.post(
        reverse("admin:orders_orderevent_delete", args=[event.pk]), {"post": "yes"}
    )
    add = staff_client.get(reverse("admin:orders_orderevent_add"))
    bulk = staff_client.post(
        reverse("admin:orders_orderevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    event.refresh_from_db()
    assert view.status_code == 200
    assert (post.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert event.kind == "created"
    assert OrderEvent.objects.filter(pk=event.pk).exists()
    assert bulk.status_code in (200, 302)


@pytest.mark.parametrize("model", [Order, Quote, OrderEvent])
def test_model_admin_refuses_writes_for_superusers(rf, admin_user, model):
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    for inline in model_admin.get_inline_instances(request):
        assert not inline.has_add_permission(request, None)
        assert not inline.has_change_permission(request)
        assert not inline.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_export_action_streams_the_portal_csv(staff_client, order, workspace, operator):
    other = make_order(workspace, operator, title="Not selected")

    response = staff_client.post(
        changelist(), {"action": "export_csv", "_selected_action": [order.pk]}
    )

    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert response.streaming
    assert [r["order_id"] for r in rows] == [str(order.pk)]
    assert rows[0]["domains"] == "brightleads.com northreach.com"
    assert rows[0]["due_now_usd"] == "55.00"
    assert str(other.pk) not in [r["order_id"] for r in rows]


def unknown_order(workspace, operator):
    import uuid

    from django.utils import timezone

    return make_order(
        workspace,
        operator,
        status="unknown",
        submission_attempt_id=uuid.uuid4(),
        attempt_started_at=timezone.now(),
        items=[("neverplaced.com", GOOGLE, ["a"])],
    )


def run_action(client, capture, action, *orders):
    """Post the action from the order list as staff do; what it queues is sent on commit."""
    with capture(execute=True):
        return client.post(
            changelist(),
            {"action": action, "_selected_action": [o.pk for o in orders]},
            follow=True,
        )


def test_reconcile_action_queues_one_check_per_unknown_order(
    staff_client,
    workspace,
    operator,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from orders import tasks

    sent = task_capture.recorded(monkeypatch, "orders.reconcile_order_now")
    unknown = unknown_order(workspace, operator)
    ready = make_order(workspace, operator, status="ready")

    response = run_action(
        staff_client, django_capture_on_commit_callbacks, "reconcile", unknown, ready
    )

    html = response.content.decode()
    unknown.refresh_from_db()
    assert "1 order(s) skipped" in html
    assert f"1 order queued for reconciliation (#{unknown.pk})" in html
    assert sent == [{"order_id": unknown.pk}]
    assert unknown.reconcile_checks == 0
    assert remote.requests() == 0

    # What the worker then does: the portal's reconciliation, recorded on the order's page.
    tasks.reconcile_order_now_task(**sent[0])

    unknown.refresh_from_db()
    assert unknown.reconcile_checks == 1
    assert unknown.status == "unknown"
    # One read of Instantly's orders list (a single page); nothing posted.
    assert remote.requests() == 1
    assert remote.requests("dfy-email-account-orders") == 1
    assert remote.real_posts() == 0
    page = staff_client.get(reverse("admin:orders_order_change", args=[unknown.pk]))
    assert "reconcile_check" in page.content.decode()


def test_reconcile_now_checks_even_when_the_next_check_is_not_due(
    workspace, operator, remote
):
    from datetime import timedelta

    from django.utils import timezone

    from orders import tasks

    unknown = unknown_order(workspace, operator)
    Order.objects.filter(pk=unknown.pk).update(
        next_reconcile_at=timezone.now() + timedelta(hours=1)
    )

    tasks.reconcile_order_task(order_id=unknown.pk)  # the sweeper's: not due, skipped
    unknown.refresh_from_db()
    assert unknown.reconcile_checks == 0

    tasks.reconcile_order_now_task(order_id=unknown.pk)  # staff asked: checks now
    unknown.refresh_from_db()
    assert unknown.reconcile_checks == 1
    assert remote.real_posts() == 0


def test_resync_action_queues_the_fulfilment_poll(
    staff_client,
    workspace,
    operator,
    remote,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
):
    from orders import tasks

    sent = task_capture.recorded(monkeypatch, "orders.poll_workspace")
    placed = make_order(
        workspace, operator, status="placed", items=[("pollme.com", GOOGLE, ["a"])]
    )
    also = make_order(workspace, operator, status="provisioning")

    response = run_action(
        staff_client,
        django_capture_on_commit_callbacks,
        "resync_from_instantly",
        placed,
        also,
    )

    assert "Acme: re-sync queued for 2 orders" in response.content.decode()
    assert sent == [{"workspace_id": workspace.pk}]  # one poll per workspace
    assert remote.requests() == 0

    with caplog.at_level(logging.INFO, logger="orders.fulfilment"):
        tasks.poll_workspace_task(**sent[0])

    assert "poll: workspace acme, 2 orders" in caplog.text
    # One page of the orders list and one of the accounts list: the poll reads, never posts.
    assert remote.requests() == 2
    assert remote.requests("accounts") == 1
    assert remote.real_posts() == 0


def test_resync_without_a_key_says_so_and_queues_nothing(
    staff_client, workspace, operator, monkeypatch, django_capture_on_commit_callbacks
):
    sent = task_capture.recorded(monkeypatch, "orders.poll_workspace")
    placed = make_order(workspace, operator, status="placed")

    response = run_action(
        staff_client,
        django_capture_on_commit_callbacks,
        "resync_from_instantly",
        placed,
    )

    assert response.status_code == 200
    assert (
        "Acme: not queued: workspace acme has no Instantly API key"
        in response.content.decode()
    )
    assert sent == []


@pytest.mark.parametrize("action", ["reconcile", "resync_from_instantly"])
def test_the_admin_request_makes_no_http_call_to_instantly(
    staff_client,
    workspace,
    operator,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
    action,
):
    import httpx

    from orders import instantly_keys

    calls: list[str] = []
    send = httpx.Client.send

    def counted(self, request, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(str(request.url))
        return send(self, request, **kwargs)

    def no_client(**kwargs):  # type: ignore[no-untyped-def]
        calls.append("instantly_client_for")
        raise AssertionError("the admin request built an Instantly client")

    monkeypatch.setattr(httpx.Client, "send", counted)
    monkeypatch.setattr(instantly_keys, "instantly_client_for", no_client)
    sent = task_capture.recorded(
        monkeypatch,
        "orders.reconcile_order_now"
        if action == "reconcile"
        else "orders.poll_workspace",
    )
    orders = [
        unknown_order(workspace, operator),
        make_order(workspace, operator, status="placed"),
    ]

    response = run_action(
        staff_client, django_capture_on_commit_callbacks, action, *orders
    )

    assert response.status_code == 200
    assert "queued" in response.content.decode()
    assert len(sent) == 1
    assert calls == []
    assert remote.requests() == 0


def test_staff_without_change_permission_only_view_and_export(client, order):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)

    html = client.get(changelist()).content.decode()

    assert 'value="export_csv"' in html
    assert 'value="reconcile"' not in html
    assert 'value="resync_from_instantly"' not in html


@pytest.mark.parametrize("per_page", [5, 100])
def test_order_changelist_query_count_does_not_grow_with_the_page_size(
    staff_client,
    workspace,
    operator,
    lead,
    monkeypatch,
    django_assert_num_queries,
    per_page,
):
    for n in range(40):
        make_order(
            workspace,
            operator,
            approver=lead,
            due_now="10.00",
            items=[(f"n{n}.com", GOOGLE, ["a"])],
        )
    monkeypatch.setattr(admin.site._registry[Order], "list_per_page", per_page)

    # user, workspaces (filter), count, sandbox settings (the nav's add link), page of
    # orders, date hierarchy range and days (the session comes from the cache); no second
    # count of every order (show_full_result_count is off)
    with django_assert_num_queries(7):
        response = staff_client.get(changelist())

    assert len(listed(response)) == min(per_page, 40)


def test_order_pages_sorted_by_price_continue_in_as_many_queries(
    staff_client, workspace, operator, lead, monkeypatch, django_assert_num_queries
):
    # Prices repeat, so the id breaks ties; every order priced, so no database's idea of
    # where NULL sorts matters.
    made = [
        make_order(workspace, operator, approver=lead, due_now=f"{n % 3}.00")
        for n in range(12)
    ]
    monkeypatch.setattr(admin.site._registry[Order], "list_per_page", 5)
    staff_client.get(changelist())  # the session learns the staff member once

    pages = []
    for page in (1, 2, 3):
        with django_assert_num_queries(7):
            pages += ordered(staff_client.get(changelist(o="-7", p=page)))

    expected = sorted(
        made, key=lambda o: (o.approved_quote.due_now, o.pk), reverse=True
    )
    assert pages == [o.pk for o in expected]


@pytest.mark.parametrize("per_page", [5, 100])
def test_event_changelist_query_count_does_not_grow_with_the_page_size(
    staff_client, workspace, operator, monkeypatch, django_assert_num_queries, per_page
):
    for _ in range(30):
        made = make_order(workspace, operator)
        OrderEvent.objects.create(
            order=made, actor=operator, kind="created", to_status="draft"
        )
    monkeypatch.setattr(admin.site._registry[OrderEvent], "list_per_page", per_page)

    # session, user, kinds, statuses, workspaces (filters), count, full count, sandbox
    # settings (the nav's add link), page of events, date hierarchy range and days
    with django_assert_num_queries(10):
        response = staff_client.get(reverse("admin:orders_orderevent_changelist"))

    assert response.status_code == 200


def test_membership_admin_keeps_the_portals_rules(staff_client, workspace, operator):
    membership = Membership.objects.get(user=operator)

    response = staff_client.post(
        reverse("admin:orders_membership_change", args=[membership.pk]),
        {
            "user": operator.pk,
            "workspace": workspace.pk,
            "role": "lead",
            "approval_limit": "-5",
        },
    )

    membership.refresh_from_db()
    assert response.status_code == 200
    assert membership.role == "operator"


def test_workspace_admin_refuses_an_amount_policy_without_threshold(
    staff_client, workspace
):
    response = staff_client.post(
        reverse("admin:orders_workspace_change", args=[workspace.pk]),
        {
            "name": "Acme",
            "slug": "acme",
            "approval_policy": "above_amount",
            "approval_threshold": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    workspace.refresh_from_db()
    assert response.status_code == 200
    assert "An approval threshold is required" in response.content.decode()
    assert workspace.approval_policy == "always"


def test_staff_member_of_no_workspace_sees_every_workspace_in_admin(
    staff_client, workspace, other_workspace
):
    MembershipFactory(workspace=other_workspace)

    html = staff_client.get(
        reverse("admin:orders_workspace_changelist")
    ).content.decode()

    assert "Acme" in html
    assert "Globex" in html
    assert Workspace.objects.count() == 2


@pytest.mark.parametrize(
    "model_name", ["charge", "requestlog", "domainorder", "dfyaccount"]
)
def test_sandbox_records_are_read_only_like_the_portals(rf, admin_user, model_name):
    from django.apps import apps

    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[apps.get_model("sandbox", model_name)]

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
