from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import MembershipFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_login(client, workspace):
    response = client.get(reverse("orders:dashboard", args=[workspace.slug]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "dashboard", "orders", "settings_page"),
    [
        ("operator", 200, 200, 403),
        ("lead", 200, 200, 403),
        ("admin", 200, 200, 200),
    ],
)
def test_each_role_sees_what_it_may(
    client, workspace, role, dashboard, orders, settings_page
):
    member = MembershipFactory(workspace=workspace, role=role).user
    client.force_login(member)

    assert (
        client.get(reverse("orders:dashboard", args=[workspace.slug])).status_code
        == dashboard
    )
    assert (
        client.get(reverse("orders:list", args=[workspace.slug])).status_code == orders
    )
    assert (
        client.get(reverse("orders:settings", args=[workspace.slug])).status_code
        == settings_page
    )


def test_operator_is_told_why_settings_are_forbidden(operator_client, workspace):
    response = operator_client.get(reverse("orders:settings", args=[workspace.slug]))

    assert response.status_code == 403
    assert "Workspace admin" in response.content.decode()


def test_other_workspace_answers_404_even_for_its_admin_role_elsewhere(
    client, workspace, other_workspace
):
    admin = MembershipFactory(workspace=workspace, role="admin").user
    client.force_login(admin)

    for name in ("orders:dashboard", "orders:list", "orders:settings"):
        response = client.get(reverse(name, args=[other_workspace.slug]))
        assert response.status_code == 404, name
    assert "belongs to a workspace you are not a member of" in response.content.decode()


def test_orders_of_another_workspace_never_listed(
    operator_client, workspace, other_workspace
):
    mine = OrderFactory(workspace=workspace, title="Mine")
    theirs = OrderFactory(workspace=other_workspace, title="Theirs")

    html = operator_client.get(
        reverse("orders:list", args=[workspace.slug])
    ).content.decode()

    assert f'id="order-{mine.pk}"' in html
    assert f'id="order-{theirs.pk}"' not in html


def test_user_in_two_workspaces_can_switch(client, workspace, other_workspace):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role="operator")
    MembershipFactory(user=user, workspace=other_workspace, role="lead")
    client.force_login(user)

    home = client.get(reverse("home"))
    first = client.get(reverse("orders:dashboard", args=[other_workspace.slug]))
    back_home = client.get(reverse("home"))

    assert home.status_code == 200
    assert "Acme" in home.content.decode()
    assert "Globex" in home.content.decode()
    assert "You are lead here" in first.content.decode()
    assert back_home["Location"] == reverse(
        "orders:dashboard", args=[other_workspace.slug]
    )


def test_single_workspace_member_lands_on_its_dashboard(operator_client, workspace):
    response = operator_client.get(reverse("home"))

    assert response["Location"] == reverse("orders:dashboard", args=[workspace.slug])


def test_lead_sees_own_approval_limit(client, lead, workspace):
    client.force_login(lead)

    html = client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()

    assert "approving up to $500" in html


def test_pages_carry_csp_without_unsafe_and_vendored_htmx(operator_client, workspace):
    response = operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))
    html = response.content.decode()

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "/static/django_htmx/htmx-2" in html
    assert "hx-headers" in html
    assert "cdn" not in html.lower()


def test_unknown_page_is_friendly_404(operator_client):
    response = operator_client.get("/no/such/page/")

    assert response.status_code == 404
    assert "Not found" in response.content.decode()
