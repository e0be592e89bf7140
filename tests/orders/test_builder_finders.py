"""The builder's domain finders, spreadsheet import/export and query budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders import finders
from orders.models import CheckStatus, DomainCheck, Mailbox, Order, OrderItem
from sandbox.models import PreWarmedDomain
from tests.orders.test_builder_views import HX, JANE, JOHN, build_url, form_state
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    return Order.objects.get()


def url(name, order, *extra):
    return reverse(f"orders:{name}", args=[order.workspace.slug, order.pk, *extra])


def test_suggestions_htmx_fragment_lists_addable_domains(
    operator_client, draft, remote
):
    response = operator_client.get(
        url("suggest", draft), {"domain": "acme", "tld": ["com"]}, headers=HX
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="suggestions"' in html
    assert 'form="builder" name="add_domain"' in html
    assert ".org" not in html.split("available like")[1]


def test_suggestions_plain_branch_is_a_page_that_keeps_the_draft(
    operator_client, draft, remote
):
    operator_client.post(
        build_url(draft), form_state(draft, items=[("acme-mail.com", 1, [JANE])])
    )

    response = operator_client.get(url("suggest", draft), {"domain": "acme"})

    html = response.content.decode()
    assert "<html" in html
    assert 'name="item-0-domain" value="acme-mail.com"' in html
    assert 'name="item-0-mb-0-prefix" value="jane"' in html


def test_suggestions_for_a_trademark_say_which_keyword(operator_client, draft, remote):
    response = operator_client.get(
        url("suggest", draft), {"domain": "googleoutreach.com"}, headers=HX
    )

    assert "restricted keyword “google”" in response.content.decode()


def test_suggestions_reject_a_non_domain_with_the_field_named(
    operator_client, draft, remote
):
    response = operator_client.get(
        url("suggest", draft), {"domain": "not a domain!"}, headers=HX
    )

    assert "is not a domain" in response.content.decode()


def test_check_creates_a_background_check_and_enqueues_it(
    operator_client, draft, remote, django_capture_on_commit_callbacks, monkeypatch
):
    sent = recorded(monkeypatch, "orders.check_domains")

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url("check", draft),
            {
                "domains": "Acme-Mail.com, tryacme.org\nacme.net nonsense!! acme-mail.com"
            },
            headers=HX,
        )

    check = DomainCheck.objects.get()
    assert check.domains == ["acme-mail.com", "tryacme.org", "acme.net", "nonsense!!"]
    # Only the malformed name is settled before the worker runs, with the reason shown.
    assert check.results == {
        "nonsense!!": {"state": "invalid", "reason": "not a domain"}
    }
    assert sent == [{"check_id": check.pk}]
    assert 'hx-trigger="every 1s"' in response.content.decode()


def test_check_run_batches_by_fifty_and_marks_each_domain(draft, remote):
    domains = [f"fresh{n}-mail.com" for n in range(120)] + [
        "google-team.com",
        "acme.net",
    ]
    check = DomainCheck.objects.create(
        workspace=draft.workspace, order=draft, domains=domains
    )

    finders.domain_check_run(check=check)

    check.refresh_from_db()
    assert check.status == CheckStatus.DONE
    assert check.checked == 122
    assert check.results["fresh0-mail.com"] == {"state": "available"}
    assert check.results["google-team.com"] == {
        "state": "restricted",
        "keyword": "google",
    }
    assert check.results["acme.net"] == {"state": "unsupported_tld"}
    assert (
        remote.requests("domains/check") == 3
    )  # 121 checkable domains in batches of 50


def test_check_status_stops_polling_when_done(operator_client, draft, remote):
    check = DomainCheck.objects.create(
        workspace=draft.workspace, order=draft, domains=["fresh-mail.com"]
    )
    finders.domain_check_run(check=check)

    response = operator_client.get(url("check_status", draft, check.pk), headers=HX)

    assert response.status_code == 286
    assert "1 of 1" in response.content.decode()
    assert "every 1s" not in response.content.decode()


def test_a_1500_domain_check_shows_its_count_and_its_wait_while_it_runs(
    operator_client,
    draft,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """1,500 pasted domains are one check; mid-way, the partial the page polls says how many
    are checked and, while the run waits for Instantly's limit, how long. The limit is met
    mid-way because 20 of the minute's 30 checks were spent just before (another tab); the
    wait is longer than a call's usual deadline and is waited out, not failed."""
    from orders import instantly_keys
    from orders.ratelimit import KIND_CHECK, MemoryRateLimiter, limiter_bucket_for

    sent = recorded(monkeypatch, "orders.check_domains")
    pasted = "\n".join(f"fresh{n}-mail.com" for n in range(1500))
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(url("check", draft), {"domains": pasted}, headers=HX)
    check = DomainCheck.objects.get()
    assert (check.total, sent) == (1500, [{"check_id": check.pk}])

    now = [1_700_000_000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    bucket = limiter_bucket_for(
        api_key=remote.key, base_url="http://testserver/sandbox/api/v2"
    )
    for _ in range(20):
        assert limiter.try_acquire(bucket, KIND_CHECK).granted
    polled: list[tuple[int, str]] = []

    def poll_while_waiting(seconds: float) -> None:
        response = operator_client.get(url("check_status", draft, check.pk), headers=HX)
        polled.append((response.status_code, response.content.decode()))
        now[0] += seconds

    factory = instantly_keys.instantly_client_for
    monkeypatch.setattr(
        instantly_keys,
        "instantly_client_for",
        lambda **options: factory(**options, limiter=limiter, sleep=poll_while_waiting),
    )

    finders.domain_check_run(check=check)

    [(status, mid_way)] = polled
    assert status == 200
    assert "<strong>500 of 1500</strong> checked" in mid_way
    assert 'value="500"' in mid_way
    assert "Waiting 61 s for Instantly&#x27;s limit of 30 checks a minute." in mid_way
    assert 'hx-trigger="every 1s"' in mid_way
    done = operator_client.get(url("check_status", draft, check.pk), headers=HX)
    assert done.status_code == 286
    assert "<strong>1500 of 1500</strong> checked · done" in done.content.decode()
    assert "Waiting" not in done.content.decode()
    assert remote.requests("domains/check") == 30


def _held_by_another_run(check: DomainCheck, seconds: float) -> None:
    """As if a live worker had claimed `check`, its lease running `seconds` more."""
    from django.utils import timezone

    DomainCheck.objects.filter(pk=check.pk).update(
        status=CheckStatus.RUNNING,
        waiting_until=timezone.now() + timedelta(seconds=seconds),
    )


def test_a_check_another_live_run_holds_is_left_to_it(draft, remote):
    check = DomainCheck.objects.create(
        workspace=draft.workspace, order=draft, domains=["fresh-mail.com"]
    )
    _held_by_another_run(check, 30)

    finders.domain_check_run(check=check)

    assert remote.requests("domains/check") == 0
    assert (check.status, check.results) == (CheckStatus.RUNNING, {})

    _held_by_another_run(check, -1)  # that run died: its lease ran out
    finders.domain_check_run(check=check)

    check.refresh_from_db()
    assert remote.requests("domains/check") == 1
    assert check.status == CheckStatus.DONE
    assert check.results == {"fresh-mail.com": {"state": "available"}}
    assert check.waiting_until is None


def test_a_run_that_lost_its_lease_saves_nothing_more(draft, remote, monkeypatch):
    from orders import instantly_keys

    domains = [f"fresh{n}-mail.com" for n in range(150)]
    check = DomainCheck.objects.create(
        workspace=draft.workspace, order=draft, domains=domains
    )
    client = instantly_keys.instantly_client_for(workspace=draft.workspace)
    check_domains = client.check_domains
    taken_over = []

    def second_call_after_a_takeover(batch):  # type: ignore[no-untyped-def]
        if batch[0] == "fresh50-mail.com":
            # The run was thought dead and another took the check over meanwhile.
            _held_by_another_run(check, 100)
            taken_over.append(DomainCheck.objects.get(pk=check.pk).waiting_until)
        return check_domains(batch)

    monkeypatch.setattr(client, "check_domains", second_call_after_a_takeover)

    finders.domain_check_run(check=check, client=client)

    check.refresh_from_db()
    assert remote.requests("domains/check") == 2  # the batch in flight went out
    assert check.checked == 50  # but only the new holder saves from now on
    assert check.status == CheckStatus.RUNNING
    assert [check.waiting_until] == taken_over


def test_the_sweeper_sends_again_the_checks_no_run_is_working_on(
    draft, remote, monkeypatch, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    sent = recorded(monkeypatch, "orders.check_domains")
    now = timezone.now()

    def check(status, lease_ago=None, created_ago=0):  # type: ignore[no-untyped-def]
        made = DomainCheck.objects.create(
            workspace=draft.workspace, order=draft, domains=["fresh-mail.com"]
        )
        DomainCheck.objects.filter(pk=made.pk).update(
            status=status,
            waiting_until=None
            if lease_ago is None
            else now - timedelta(seconds=lease_ago),
            created_at=now - timedelta(seconds=created_ago),
        )
        return made.pk

    dead = check(CheckStatus.RUNNING, lease_ago=61)
    lost = check(CheckStatus.QUEUED, created_ago=61)
    check(CheckStatus.RUNNING, lease_ago=-50)  # alive
    check(CheckStatus.RUNNING, lease_ago=10)  # released for a retry due in seconds
    check(CheckStatus.QUEUED, created_ago=5)  # its message is on its way
    check(CheckStatus.DONE, lease_ago=3600)
    abandoned = check(CheckStatus.RUNNING, lease_ago=600, created_ago=3601)

    with django_capture_on_commit_callbacks(execute=True):
        assert finders.domain_checks_sweep(now=now) == 2

    assert sorted(m["check_id"] for m in sent) == sorted([dead, lost])
    stopped = DomainCheck.objects.get(pk=abandoned)
    assert stopped.status == CheckStatus.FAILED
    assert "stopped before it finished" in stopped.error
    assert stopped.finished_at == now


def test_check_status_of_another_order_is_404(
    operator_client, draft, remote, workspace, operator
):
    other = Order.objects.create(workspace=workspace, requester=operator)
    check = DomainCheck.objects.create(
        workspace=workspace, order=other, domains=["x-mail.com"]
    )

    assert operator_client.get(url("check_status", draft, check.pk)).status_code == 404


def test_prewarmed_stock_shows_provider_and_empty_stock_offers_dfy(
    operator_client, workspace, remote
):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "pre_warmed_up"}
    )
    order = Order.objects.get()
    PreWarmedDomain.objects.create(domain="warmacme.co", account_type=2)

    listed = operator_client.get(
        url("prewarmed", order), {"ext": ["co"]}, headers=HX
    ).content.decode()
    PreWarmedDomain.objects.all().delete()
    empty = operator_client.get(
        url("prewarmed", order), {"ext": ["co"]}, headers=HX
    ).content.decode()

    assert "warmacme.co" in listed
    assert "AirMail" in listed
    assert 'value="warmacme.co|2"' in listed
    assert "no pre-warmed domains" in empty
    assert 'name="switch_type" value="dfy"' in empty


def test_switching_an_empty_prewarmed_draft_to_dfy(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "pre_warmed_up"}
    )
    order = Order.objects.get()

    operator_client.post(
        build_url(order), form_state(order, items=[], switch_type="dfy"), headers=HX
    )

    order.refresh_from_db()
    assert order.order_type == "dfy"


def test_owned_domains_list_microsoft_as_not_eligible(
    operator_client, workspace, remote
):
    from orders.models import RemoteDomain

    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "extra_accounts"}
    )
    order = Order.objects.get()
    RemoteDomain.objects.create(workspace=workspace, domain="ours.com", provider=1)
    RemoteDomain.objects.create(workspace=workspace, domain="ours-ms.com", provider=3)

    html = operator_client.get(url("owned", order), headers=HX).content.decode()

    assert 'value="ours.com|1"' in html
    assert "ours-ms.com" in html
    assert "Not eligible: Microsoft domains cannot take extra mailboxes" in html
    assert 'value="ours-ms.com|3"' not in html


def test_csv_export_then_import_round_trips(operator_client, draft):
    operator_client.post(
        build_url(draft),
        form_state(
            draft,
            items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 2, [JANE])],
        ),
    )
    exported = operator_client.get(url("csv_export", draft))
    Mailbox.objects.all().delete()
    draft.refresh_from_db()

    response = operator_client.post(
        url("csv_import", draft),
        {
            "version": draft.version,
            "file": SimpleUploadedFile("m.csv", exported.content, "text/csv"),
        },
    )

    assert exported["Content-Type"].startswith("text/csv")
    assert response.status_code == 302
    assert sorted(Mailbox.objects.values_list("item__domain", "email_prefix")) == [
        ("acme-mail.com", "jane"),
        ("acme-mail.com", "john"),
        ("tryacme.org", "jane"),
    ]
    assert OrderItem.objects.get(domain="tryacme.org").provider == 2


def test_csv_with_problems_lists_each_line_and_applies_nothing(operator_client, draft):
    operator_client.post(
        build_url(draft), form_state(draft, items=[("acme-mail.com", 1, [JANE])])
    )
    draft.refresh_from_db()
    body = b"domain,first_name,last_name,email_prefix\nacme-mail.com,Ann,Lee,ann\nbad domain,Bo,Li,bo\nacme-mail.com,,Roe,x..y\n"

    response = operator_client.post(
        url("csv_import", draft),
        {
            "version": draft.version,
            "file": SimpleUploadedFile("m.csv", body, "text/csv"),
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Line 3" in html
    assert "Line 4" in html
    assert list(Mailbox.objects.values_list("email_prefix", flat=True)) == ["jane"]


# Membership with the user (one query, orders/access_prefetch.py), order, items and
# mailboxes (read once for the form and the quote's fingerprint), newest quote, latest check,
# the newest undo snapshot, the switcher's memberships, the requester; the session comes from
# the cache.
PAGE_QUERIES = 9


def builder_queries(client, order, domains):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    items = [(f"fresh{n}-mail.com", 1, [JANE, JOHN]) for n in range(domains)]
    client.post(build_url(order), form_state(order, items=items), headers=HX)
    order.refresh_from_db()
    changed = [(f"fresh{n}-mail.com", 1, [JANE]) for n in range(domains)]
    with CaptureQueriesContext(connection) as autosave:
        client.post(build_url(order), form_state(order, items=changed), headers=HX)
    with CaptureQueriesContext(connection) as page:
        client.get(build_url(order))
    return len(autosave), len(page)


def test_builder_requests_query_count_does_not_grow_with_domains(
    operator_client, workspace, remote
):
    orders = []
    for _ in range(2):
        operator_client.post(
            reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
        )
        orders.append(Order.objects.latest("pk"))

    one = builder_queries(operator_client, orders[0], 1)
    twelve = builder_queries(operator_client, orders[1], 12)

    # The autosave count includes the in-process sandbox answering the simulation.
    assert one == twelve
    assert one[1] == PAGE_QUERIES


def test_reloading_the_builder_shows_the_check_and_keeps_polling(
    operator_client, draft, remote
):
    DomainCheck.objects.create(
        workspace=draft.workspace,
        order=draft,
        domains=["fresh-mail.com", "other-mail.com"],
    )

    html = operator_client.get(build_url(draft)).content.decode()

    assert "0 of 2" in html
    assert 'hx-trigger="every 1s"' in html
    assert "fresh-mail.com" in html


def test_plain_branches_of_the_finders_answer_without_javascript(
    operator_client, draft, remote, workspace
):
    from orders.models import RemoteDomain

    RemoteDomain.objects.create(workspace=workspace, domain="ours.com", provider=1)

    check = operator_client.post(url("check", draft), {"domains": "fresh-mail.com"})
    quote = operator_client.post(url("quote", draft))
    stock = operator_client.get(url("prewarmed", draft), {"ext": ["com"]})
    owned = operator_client.get(url("owned", draft))

    assert check.status_code == 302
    assert check["Location"] == build_url(draft)
    assert quote.status_code == 302
    assert "<html" in stock.content.decode()
    assert 'id="prewarmed"' in stock.content.decode()
    assert "<html" in owned.content.decode()
    assert 'value="ours.com|1"' in owned.content.decode()


def test_owned_refresh_polls_until_the_worker_has_read_the_lists(
    operator_client, workspace, remote, django_capture_on_commit_callbacks, monkeypatch
):
    from orders import tasks

    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "extra_accounts"}
    )
    order = Order.objects.get()
    sent = recorded(monkeypatch, "orders.refresh_remote_mirror")

    with django_capture_on_commit_callbacks(execute=True):
        asked = operator_client.post(url("owned", order), headers=HX).content.decode()
    still = operator_client.get(url("owned", order), headers=HX).content.decode()
    tasks.refresh_remote_mirror_task(**sent[0])
    done = operator_client.get(url("owned", order), headers=HX).content.decode()

    assert sent == [{"workspace_id": workspace.pk}]
    assert "Refreshing" in asked
    assert 'hx-trigger="load delay:2s"' in still
    assert "Refreshing" not in done
    assert "owns no domains at Instantly yet" in done
