"""The admin's read-only pages for order templates and the persona library: they render a
template's shape in words as the templates page does, nobody may write through them, and
their lists do not grow in queries with the page size."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders import order_templates
from orders.models import OrderTemplate, Persona
from tests.orders.admin_checks import VIEW_ONLY, list_queries_grow, what_staff_may_do
from tests.orders.history_data import make_order

pytestmark = pytest.mark.django_db

PAGES: dict[str, type[OrderTemplate] | type[Persona]] = {
    "ordertemplate": OrderTemplate,
    "persona": Persona,
}


def planning_rows(workspace, operator, n: int = 1) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    rows: dict[str, list[int]] = {"ordertemplate": [], "persona": []}
    for i in range(n):
        order = make_order(
            workspace,
            operator,
            title=f"Spring push {i}",
            items=[("alpha.com", 1, ("anna", "ben")), ("beta.com", 1, ("anna", "ben"))],
        )
        template = order_templates.order_template_create(
            order=order, by=operator, name=f"Two Google domains {i}"
        )
        rows["ordertemplate"].append(template.pk)
        persona = Persona.objects.create(
            workspace=workspace, first_name="Anna", last_name=f"Berg {i}", title="Sales"
        )
        rows["persona"].append(persona.pk)
    return rows


def test_a_template_page_shows_its_shape_in_words(staff_client, workspace, operator):  # type: ignore[no-untyped-def]
    pk = planning_rows(workspace, operator)["ordertemplate"][0]

    listing = staff_client.get(
        reverse("admin:orders_ordertemplate_changelist")
    ).content.decode()
    page = staff_client.get(
        reverse("admin:orders_ordertemplate_change", args=[pk])
    ).content.decode()

    assert "Two Google domains 0" in listing
    assert "2 Google domains with 2 mailboxes each" in listing
    assert "Spring push 0" in page  # the order it was made from, linked
    assert "1. Google: anna, ben (forwarding: none)" in page


def test_a_template_whose_shape_is_unreadable_says_why(
    staff_client, workspace, operator
):  # type: ignore[no-untyped-def]
    pk = planning_rows(workspace, operator)["ordertemplate"][0]
    OrderTemplate.objects.filter(pk=pk).update(shape={"format": 99})

    page = staff_client.get(reverse("admin:orders_ordertemplate_change", args=[pk]))

    assert page.status_code == 200
    assert "The saved shape is not readable" in page.content.decode()


def test_a_persona_page_shows_the_person(staff_client, workspace, operator):  # type: ignore[no-untyped-def]
    pk = planning_rows(workspace, operator)["persona"][0]

    page = staff_client.get(reverse("admin:orders_persona_change", args=[pk]))

    assert page.status_code == 200
    for text in ("Anna", "Berg 0", "Sales", workspace.name):
        assert text in page.content.decode()


@pytest.mark.parametrize("model", PAGES.values())
def test_nobody_may_write_here(rf, admin_user, model):  # type: ignore[no-untyped-def]
    assert what_staff_may_do(rf, admin_user, model) == VIEW_ONLY


@pytest.mark.parametrize("name", PAGES)
def test_posting_changes_nothing(staff_client, workspace, operator, name):  # type: ignore[no-untyped-def]
    pk = planning_rows(workspace, operator)[name][0]
    change = staff_client.post(
        reverse(f"admin:orders_{name}_change", args=[pk]), {"name": "Renamed"}
    )
    delete = staff_client.post(
        reverse(f"admin:orders_{name}_delete", args=[pk]), {"post": "yes"}
    )

    assert (change.status_code, delete.status_code) == (403, 403)
    assert PAGES[name].objects.filter(pk=pk).exists()
    assert not OrderTemplate.objects.filter(name="Renamed").exists()


@pytest.mark.parametrize("name", PAGES)
def test_list_queries_do_not_grow_with_the_page_size(
    staff_client, workspace, operator, monkeypatch, name
):  # type: ignore[no-untyped-def]
    planning_rows(workspace, operator, n=6)
    url = reverse(f"admin:orders_{name}_changelist")

    few, many = list_queries_grow(staff_client, url, PAGES[name], monkeypatch)

    assert few == many
