"""Templates and "order again" through the test client: who may do what, workspace walls,
what a person sees when something is missing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderTemplate
from orders.order_shapes import shape_from_json
from tests.factories import MembershipFactory
from tests.integration.support import JANE, JOHN, draft_order
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def url(name, workspace, *args):
    return reverse(f"orders:{name}", args=[workspace.slug, *args])


def ready(order):
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.READY, placed_at=timezone.now(), ready_at=timezone.now()
    )
    order.refresh_from_db()
    return order


@pytest.fixture
def bought(workspace, operator):
    return ready(
        draft_order(
            workspace,
            operator,
            title="Q3 outreach",
            items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 2, [JANE])],
        )
    )


@pytest.fixture
def template(workspace, operator, bought):
    from orders.order_templates import order_template_create

    return order_template_create(order=bought, by=operator, name="Two domains")


@pytest.fixture
def checks(monkeypatch):
    return recorded(monkeypatch, "orders.check_domains")


# --- Save as template -------------------------------------------------------------------------


def test_save_as_template_from_a_bought_order_stores_its_shape(
    operator_client, workspace, operator, bought
):
    response = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": " Two domains "}
    )

    assert response.status_code == 302
    assert response["Location"] == url("templates", workspace)
    saved = OrderTemplate.objects.get()
    assert saved.name == "Two domains"
    assert saved.workspace == workspace
    assert saved.created_by == operator
    assert saved.source_order == bought
    assert saved.order_type == "dfy"
    shape = shape_from_json(saved.shape)
    assert [d.provider for d in shape.domains] == [1, 2]
    assert [len(d.mailboxes) for d in shape.domains] == [2, 1]


def test_save_as_template_htmx_swaps_the_form_for_a_confirmation(
    operator_client, workspace, bought
):
    response = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": "Again"}, headers=HX
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="template-save"' in html
    assert "Saved the template “Again”" in html


def test_a_taken_name_in_another_case_is_refused_and_the_typed_name_kept(
    operator_client, workspace, bought, template
):
    response = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": "TWO Domains"}, headers=HX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="TWO Domains"' in html
    assert "already has a template called “TWO Domains”" in html
    assert OrderTemplate.objects.count() == 1


def test_without_htmx_the_error_page_keeps_the_typed_name(
    operator_client, workspace, bought, template
):
    response = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": "two domains"}
    )

    html = response.content.decode()
    assert "<html" in html
    assert 'value="two domains"' in html
    assert 'aria-invalid="true"' in html


def test_the_save_page_offers_the_order_name(operator_client, workspace, bought):
    html = operator_client.get(
        url("template_save", workspace, bought.pk)
    ).content.decode()

    assert 'value="Q3 outreach"' in html


def test_a_blank_or_control_character_name_is_refused(
    operator_client, workspace, bought
):
    blank = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": "   "}, headers=HX
    )
    control = operator_client.post(
        url("template_save", workspace, bought.pk), {"name": "a\x07b"}, headers=HX
    )

    assert "This field is required." in blank.content.decode()
    assert "contains a control character" in control.content.decode()
    assert not OrderTemplate.objects.exists()


def test_a_draft_that_could_not_be_ordered_is_not_saved_and_says_why(
    operator_client, workspace, operator
):
    order = draft_order(
        workspace, operator, items=[("acme-mail.com", 1, [("Jane", "Roe", "Jane")])]
    )

    response = operator_client.post(
        url("template_save", workspace, order.pk), {"name": "Broken"}, headers=HX
    )

    html = response.content.decode()
    assert "cannot be saved as a template until it is fixed" in html
    assert "Domain 1, mailbox 1: the prefix “Jane” has upper-case letters" in html
    assert not OrderTemplate.objects.exists()


def test_an_order_without_domains_has_no_shape_to_save(
    operator_client, workspace, operator
):
    order = draft_order(workspace, operator, items=[])

    response = operator_client.post(
        url("template_save", workspace, order.pk), {"name": "Empty"}, headers=HX
    )

    assert "no shape to save" in response.content.decode()


def test_the_builder_and_the_order_page_offer_the_right_actions(
    operator_client, workspace, operator, bought
):
    draft = draft_order(workspace, operator, items=[("acme-mail.com", 1, [JANE])])
    empty = draft_order(workspace, operator, items=[])

    builder = operator_client.get(url("build", workspace, draft.pk)).content.decode()
    page = operator_client.get(url("detail", workspace, bought.pk)).content.decode()
    nothing = operator_client.get(url("build", workspace, empty.pk)).content.decode()

    assert 'id="template-save"' in builder
    assert 'id="order-again"' not in builder
    assert 'id="template-save"' in page
    assert 'id="order-again"' in page
    assert 'id="shape-actions"' not in nothing


# --- Templates page ---------------------------------------------------------------------------


def test_the_templates_page_summarises_each_shape(
    operator_client, workspace, operator, template
):
    html = operator_client.get(url("templates", workspace)).content.decode()

    assert "Two domains" in html
    assert "1 Google domain with 2 mailboxes" in html
    assert "1 AirMail domain with 1 mailbox" in html
    assert "Jane Roe, John Roe" in html
    assert "New draft from template" in html
    # Its author may delete it.
    assert url("template_delete", workspace, template.pk) in html


def test_the_templates_page_lists_only_this_workspace(
    operator_client, workspace, other_workspace, template
):
    stranger = User.objects.create_user("stranger")
    MembershipFactory(workspace=other_workspace, user=stranger)
    theirs = OrderTemplate.objects.create(
        workspace=other_workspace,
        name="Theirs",
        shape=template.shape,
        created_by=stranger,
    )

    html = operator_client.get(url("templates", workspace)).content.decode()

    assert "Two domains" in html
    assert theirs.name not in html


def test_an_empty_templates_page_says_how_to_make_one(operator_client, workspace):
    html = operator_client.get(url("templates", workspace)).content.decode()

    assert 'id="templates-empty"' in html


def test_an_unreadable_template_says_why_and_offers_no_draft(
    operator_client, workspace, operator
):
    OrderTemplate.objects.create(
        workspace=workspace, name="Old", shape={"format": 0}, created_by=operator
    )

    html = operator_client.get(url("templates", workspace)).content.decode()

    assert "format 0 is not 1" in html
    assert "New draft from template" not in html


def test_the_new_order_page_leads_to_the_templates(operator_client, workspace):
    html = operator_client.get(url("new", workspace)).content.decode()

    assert url("templates", workspace) in html


# --- Delete -----------------------------------------------------------------------------------


def test_another_operator_may_not_delete_a_template(client, workspace, template):
    other = MembershipFactory(workspace=workspace, role="operator").user
    client.force_login(other)

    page = client.get(url("templates", workspace)).content.decode()
    response = client.post(url("template_delete", workspace, template.pk))

    assert url("template_delete", workspace, template.pk) not in page
    assert response.status_code == 403
    assert OrderTemplate.objects.filter(pk=template.pk).exists()


def test_a_lead_may_delete_anyones_template(client, workspace, lead, template):
    client.force_login(lead)

    response = client.post(url("template_delete", workspace, template.pk), follow=True)

    assert not OrderTemplate.objects.exists()
    assert "Deleted the template “Two domains”." in response.content.decode()


def test_the_author_may_delete_their_template(operator_client, workspace, template):
    operator_client.post(url("template_delete", workspace, template.pk))

    assert not OrderTemplate.objects.exists()


# --- New draft from a template ----------------------------------------------------------------


def test_a_draft_from_a_template_opens_in_the_builder_with_its_check(
    operator_client,
    workspace,
    template,
    remote,
    checks,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url("template_draft", workspace, template.pk), {"seeds": "globex"}
        )

    order = Order.objects.exclude(pk=template.source_order_id).get()
    assert response.status_code == 302
    assert response["Location"] == url("build", workspace, order.pk)
    assert order.title == "Two domains"
    assert [i.provider for i in order.items.all()] == [1, 2]
    assert all("globex" in i.domain for i in order.items.all())
    assert checks == [{"check_id": order.domain_checks.get().pk}]
    page = operator_client.get(response["Location"]).content.decode()
    assert "New draft with 2 new domains; their availability is being checked" in page
    assert 'id="domain-check" hx-get=' in page  # the builder polls the running check


def test_a_draft_from_a_template_without_names_keeps_the_page_and_says_so(
    operator_client, workspace, template
):
    response = operator_client.post(
        url("template_draft", workspace, template.pk), {"seeds": "acme, bad_name!"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "“bad_name!” is not a name to find domains for." in html
    assert 'value="acme, bad_name!"' in html
    assert Order.objects.count() == 1


def test_a_draft_from_a_template_without_a_key_says_so_on_the_builder(
    operator_client, workspace, template, checks
):
    response = operator_client.post(
        url("template_draft", workspace, template.pk), {"seeds": "globex"}, follow=True
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "This workspace has no Instantly API key yet." in html
    assert "Found 0 new domains of the 2 needed" in html
    assert checks == []


def test_an_unreadable_template_makes_no_draft(operator_client, workspace, operator):
    broken = OrderTemplate.objects.create(
        workspace=workspace, name="Old", shape={"format": 0}, created_by=operator
    )

    response = operator_client.post(
        url("template_draft", workspace, broken.pk), {"seeds": "acme"}, follow=True
    )

    assert "format 0 is not 1" in response.content.decode()
    assert not Order.objects.exists()


# --- Order again ------------------------------------------------------------------------------


def test_order_again_makes_a_draft_of_the_same_shape_from_the_old_names(
    operator_client, workspace, bought, remote, checks
):
    response = operator_client.post(url("order_again", workspace, bought.pk))

    again = Order.objects.exclude(pk=bought.pk).get()
    assert response["Location"] == url("build", workspace, again.pk)
    assert again.status == OrderStatus.DRAFT
    assert again.title == "Q3 outreach (again)"
    items = list(again.items.all())
    assert [i.provider for i in items] == [1, 2]
    # Each old name keeps its TLD: acme-mail.com gives .com names, tryacme.org .org ones.
    assert items[0].domain.endswith(".com")
    assert "acme-mail" in items[0].domain
    assert items[1].domain.endswith(".org")
    assert "tryacme" in items[1].domain
    assert [m.email_prefix for m in items[0].mailboxes.all()] == ["jane", "john"]
    assert remote.requests("domains/similar") == 2


@pytest.mark.parametrize(
    "status", [OrderStatus.CANCELLED, OrderStatus.FAILED, OrderStatus.REJECTED]
)
def test_order_again_is_offered_on_every_past_order(
    operator_client, workspace, operator, status
):
    order = draft_order(workspace, operator)
    Order.objects.filter(pk=order.pk).update(status=status, decided_by=None)

    # A rejected order opens in the builder: the card is there too.
    html = operator_client.get(
        url("detail", workspace, order.pk), follow=True
    ).content.decode()

    assert 'id="order-again"' in html


def test_order_again_on_a_draft_is_refused_with_a_message(
    operator_client, workspace, operator
):
    order = draft_order(workspace, operator)

    response = operator_client.post(
        url("order_again", workspace, order.pk), follow=True
    )

    assert (
        "Only an order that is over can be ordered again" in response.content.decode()
    )
    assert Order.objects.count() == 1


def test_order_again_of_an_order_without_domains_is_refused(
    operator_client, workspace, operator
):
    order = ready(draft_order(workspace, operator, items=[]))

    response = operator_client.post(
        url("order_again", workspace, order.pk), follow=True
    )

    assert "nothing to order again" in response.content.decode()


def test_order_again_when_instantly_fails_lands_on_the_builder_with_the_reason(
    operator_client, workspace, bought, remote, checks
):
    from sandbox.switches import switches_set

    switches_set(workspace=remote.sandbox, error_5xx_remaining=50)

    response = operator_client.post(
        url("order_again", workspace, bought.pk), follow=True
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Instantly did not answer in time" in html
    assert 'id="builder"' in html


# --- Workspace walls and methods --------------------------------------------------------------


def test_another_workspaces_order_and_template_are_not_found(
    client, workspace, other_workspace, template, bought
):
    stranger = MembershipFactory(workspace=other_workspace, role="admin").user
    client.force_login(stranger)

    answers = [
        client.post(url("template_save", other_workspace, bought.pk), {"name": "x"}),
        client.post(url("order_again", other_workspace, bought.pk)),
        client.post(
            url("template_draft", other_workspace, template.pk), {"seeds": "a"}
        ),
        client.post(url("template_delete", other_workspace, template.pk)),
        client.get(url("templates", workspace)),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404, 404]
    assert OrderTemplate.objects.count() == 1
    assert Order.objects.count() == 1


def test_the_actions_refuse_get(operator_client, workspace, bought, template):
    assert (
        operator_client.get(url("order_again", workspace, bought.pk)).status_code == 405
    )
    assert (
        operator_client.get(url("template_delete", workspace, template.pk)).status_code
        == 405
    )


def test_a_name_taken_meanwhile_is_refused_by_the_database(
    workspace, operator, bought, template, monkeypatch
):
    from orders import order_templates
    from orders.models.planning import OrderTemplateQuerySet

    # Another request saved the name between the check and the insert.
    monkeypatch.setattr(
        OrderTemplateQuerySet, "in_workspace", lambda self, workspace: self.none()
    )

    with pytest.raises(order_templates.TemplateNameTaken):
        order_templates.order_template_create(
            order=bought, by=operator, name="TWO DOMAINS"
        )


def test_names_that_are_only_separators_are_refused():
    from orders.order_template_forms import TemplateDraftForm

    form = TemplateDraftForm({"seeds": " , ; "})

    assert form.errors["seeds"] == ["Type at least one name, such as acme."]


def test_forwarding_to_a_sibling_is_shown_as_its_place(
    operator_client, workspace, operator
):
    from orders import drafts
    from orders.order_templates import order_template_create
    from orders.rules import DraftItem, DraftMailbox

    order = draft_order(workspace, operator, items=[])
    jane = DraftMailbox(*JANE)
    drafts.order_draft_save(
        order=order,
        by=operator,
        version=order.version,
        items=[
            DraftItem("acme-mail.com", 1, "acme.com", (jane,)),
            DraftItem("tryacme.org", 1, "acme-mail.com", (jane,)),
        ],
    )
    order_template_create(order=order, by=operator, name="Chain")

    html = operator_client.get(url("templates", workspace)).content.decode()

    assert "1 domain to acme.com; 1 domain to domain 1 of the new order" in html
