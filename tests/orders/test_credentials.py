"""Issue 15 §2: credentials revealed on purpose and audited (orders/credentials.py), against
the in-process sandbox. A lead or admin sees the passwords once, in a no-store POST response,
or downloads them as a CSV; each time one event and one notice to the admins; operators are
refused; the passwords reach no table, cache entry, log line or page rendered afterwards."""

from __future__ import annotations

import csv
import html
import io
import logging
from datetime import timedelta
from typing import cast

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from orders import credentials, fulfilment, instantly, instantly_keys, workflow
from orders.lifecycle import EventKind
from orders.models import (
    InstantlyKey,
    Mailbox,
    MailboxStatus,
    Order,
    OrderEvent,
    OrderStatus,
)
from orders.models.remote import PollCursor
from sandbox.models import DfyAccount, SandboxWorkspace
from sandbox.switches import switches_set
from tests.factories import OrderFactory, UserFactory
from tests.integration.support import JANE, JOHN, TaskQueue, submitted_order

pytestmark = pytest.mark.django_db

EMAILS = ["jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"]
NO_STORE = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}


def place(workspace, operator, lead, items, monkeypatch, capture):  # type: ignore[no-untyped-def]
    queue = TaskQueue(monkeypatch)
    order = submitted_order(workspace, operator, items=items)
    with capture(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.drain(capture)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    return order


def deliver(workspace, remote, capture):  # type: ignore[no-untyped-def]
    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=0)
    with capture(execute=True):
        fulfilment.fulfilment_poll_workspace(workspace=workspace)


@pytest.fixture
def delivered(  # type: ignore[no-untyped-def]
    workspace,
    operator,
    lead,
    ws_admin,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Ready at the sandbox: jane and john on acme-mail.com, jane on tryacme.org."""
    order = place(
        workspace,
        operator,
        lead,
        [("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])],
        monkeypatch,
        django_capture_on_commit_callbacks,
    )
    deliver(workspace, remote, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    mail.outbox.clear()
    return order


def passwords(remote):  # type: ignore[no-untyped-def]
    found = dict(
        DfyAccount.objects.filter(workspace=remote.sandbox).values_list(
            "email", "password"
        )
    )
    return [found[email] for email in EMAILS]


def text(response):  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def url(order, name="credentials"):  # type: ignore[no-untyped-def]
    return reverse(
        f"orders:{name}", kwargs={"slug": order.workspace.slug, "pk": order.pk}
    )


def audit(order):  # type: ignore[no-untyped-def]
    return list(
        OrderEvent.objects.filter(order=order, kind__startswith="credentials")
        .order_by("pk")
        .values_list("kind", "actor__username", "detail")
    )


def reveal(client, user, order, capture):  # type: ignore[no-untyped-def]
    client.force_login(user)
    with capture(execute=True):
        return client.post(url(order))


# --- Reveal --------------------------------------------------------------------------------


def test_a_lead_reveals_once_no_store_one_event_one_notice(
    client, lead, delivered, remote, django_capture_on_commit_callbacks
):
    before = remote.requests("accounts")

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    page = text(response)
    for password in passwords(remote):
        assert f'<code class="secret" data-secret>{password}</code>' in page
    assert 'data-expires-in="300"' in page
    assert "js/credentials.js" in page
    assert {k: response[k] for k in NO_STORE} == NO_STORE
    # Three mailboxes fit one page of the accounts list.
    assert remote.requests("accounts") - before == 1
    assert audit(delivered) == [
        (
            EventKind.CREDENTIALS_REVEALED,
            "leo",
            {
                "summary": "3 mailboxes: " + ", ".join(EMAILS),
                "mailboxes": EMAILS,
                "pending": 0,
            },
        )
    ]
    assert [m.to for m in mail.outbox] == [["ada@example.test"]]
    notice = mail.outbox[0]
    assert notice.subject == f"Credentials revealed: {delivered}"
    assert "leo fetched the mailbox credentials" in notice.body
    assert "3 mailboxes: jane@acme-mail.com" in notice.body
    assert not any(p in notice.body + notice.subject for p in passwords(remote))


def test_an_admin_may_reveal_and_the_setting_sets_the_expiry(
    client, ws_admin, delivered, remote, settings, django_capture_on_commit_callbacks
):
    settings.DFY_CREDENTIALS_REVEAL_SECONDS = 7

    response = reveal(client, ws_admin, delivered, django_capture_on_commit_callbacks)

    page = text(response)
    assert 'data-expires-in="7"' in page
    assert "7 seconds" in page
    assert passwords(remote)[0] in page
    assert [kind for kind, _by, _d in audit(delivered)] == ["credentials_revealed"]


def test_the_confirm_step_says_it_is_recorded_and_who_is_told(
    client, lead, delivered, remote
):
    client.force_login(lead)
    before = remote.requests("accounts")

    response = client.get(url(delivered))

    page = text(response)
    assert response.status_code == 200
    assert "recorded in the order's timeline with your name" in page
    assert "the workspace's admins (<strong>ada</strong>) are told by email" in page
    assert 'id="reveal-form"' in page
    assert 'id="download-form"' in page
    assert not any(p in page for p in passwords(remote))
    assert {k: response[k] for k in NO_STORE} == NO_STORE
    # Nothing is fetched or recorded before the person confirms.
    assert remote.requests("accounts") == before
    assert audit(delivered) == []


def test_the_order_page_offers_the_reveal_to_leads_only(
    client, operator, lead, delivered
):
    client.force_login(lead)
    assert (
        'id="reveal-credentials"'
        in client.get(delivered.get_absolute_url()).content.decode()
    )
    client.force_login(operator)
    assert (
        'id="reveal-credentials"'
        not in client.get(delivered.get_absolute_url()).content.decode()
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_operators_are_refused_with_a_clear_message(
    client, operator, delivered, remote, method
):
    client.force_login(operator)
    before = remote.requests()

    response = getattr(client, method)(url(delivered))

    assert response.status_code == 403
    assert credentials.NOT_ALLOWED in text(response)
    assert remote.requests() == before
    assert audit(delivered) == []


def test_operators_cannot_download_either(client, operator, delivered, remote):
    client.force_login(operator)

    response = client.post(url(delivered, "credentials_csv"))

    assert response.status_code == 403
    assert audit(delivered) == []


def test_another_workspaces_order_is_not_found(client, lead, other_workspace):
    order = cast(Order, OrderFactory(workspace=other_workspace, status="ready"))
    client.force_login(lead)

    response = client.post(
        reverse("orders:credentials", kwargs={"slug": "acme", "pk": order.pk})
    )

    assert response.status_code == 404


def test_an_order_not_bought_has_nothing_to_reveal(client, lead, workspace, remote):
    order = OrderFactory(workspace=workspace, status="draft")
    client.force_login(lead)
    before = remote.requests()

    shown = text(client.get(url(order)))
    posted = client.post(url(order))

    assert "there are no credentials to reveal" in shown
    assert 'id="reveal-form"' not in shown
    assert posted.status_code == 200
    assert credentials.NOT_BOUGHT in text(posted)
    assert remote.requests() == before
    assert audit(order) == []


def test_a_mailbox_still_being_set_up_is_shown_so_and_not_recorded(
    client, lead, delivered, remote, django_capture_on_commit_callbacks
):
    DfyAccount.objects.filter(email="john@acme-mail.com").update(
        timestamp_created=timezone.now() + timedelta(hours=1)
    )

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    page = text(response)
    assert "Still being set up" in page
    assert passwords(remote)[0] in page
    assert passwords(remote)[2] in page
    assert passwords(remote)[1] not in page
    ((_kind, _by, detail),) = audit(delivered)
    assert detail["mailboxes"] == [EMAILS[0], EMAILS[2]]
    assert detail["summary"] == f"2 mailboxes: {EMAILS[0]}, {EMAILS[2]}"
    assert detail["pending"] == 1


def test_no_password_yet_reveals_and_records_nothing(
    client, lead, delivered, remote, django_capture_on_commit_callbacks
):
    DfyAccount.objects.filter(workspace=remote.sandbox).update(
        timestamp_created=timezone.now() + timedelta(hours=1)
    )

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    assert credentials.NONE_READY in text(response)
    assert audit(delivered) == []
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"burst_429_remaining": 20}, "Instantly is limiting requests"),
        ({"error_5xx_remaining": 20}, "Instantly did not answer in time"),
        ({"plan_active": False}, "Instantly refused the workspace's API key"),
    ],
    ids=["429", "5xx", "402"],
)
def test_remote_trouble_is_a_clear_message_and_records_nothing(
    client, lead, delivered, remote, switches, words, django_capture_on_commit_callbacks
):
    if "plan_active" in switches:
        SandboxWorkspace.objects.filter(pk=remote.sandbox.pk).update(**switches)
    else:
        switches_set(workspace=remote.sandbox, **switches)

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    page = text(response)
    assert words in page
    assert "Nothing was revealed" in page
    assert 'id="credentials"' not in page
    assert audit(delivered) == []
    assert mail.outbox == []


def test_a_key_instantly_does_not_know_is_explained(
    client, lead, delivered, workspace, django_capture_on_commit_callbacks
):
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret="not-a-real-key-1234",
        label="Wrong",
        base_url="http://testserver/sandbox/api/v2",
    )

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    assert "Instantly refused the workspace's API key" in text(response)
    assert audit(delivered) == []


def test_no_key_is_explained(
    client, lead, delivered, workspace, django_capture_on_commit_callbacks
):
    InstantlyKey.objects.filter(workspace=workspace).delete()

    response = reveal(client, lead, delivered, django_capture_on_commit_callbacks)

    assert instantly_keys.NO_KEY_PROBLEM in text(response)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (instantly.DeadlineExceeded("late", retry_after=3.2), "rate_limited"),
        (instantly.DeadlineExceeded("late"), "no_answer"),
        (instantly.InstantlyProtocolError("bad page"), "unreadable"),
        (instantly.InstantlyScopeError("403"), "key"),
    ],
)
def test_every_remote_error_has_words(exc, code):
    problem = credentials.credentials_problem(exc)

    assert problem.code == code
    assert "Nothing was revealed" in problem.message
    assert str(exc) not in problem.message


def test_the_wait_is_in_whole_seconds():
    problem = credentials.credentials_problem(
        instantly.RateLimited("429", retry_after=1)
    )

    assert problem.message.endswith("try again in 1 second.")


# --- Download ------------------------------------------------------------------------------


def test_the_csv_download_is_a_no_store_attachment_with_one_event_and_notice(
    client, lead, delivered, remote, django_capture_on_commit_callbacks
):
    client.force_login(lead)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(delivered, "credentials_csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="order-{delivered.pk}-credentials.csv"'
    )
    assert {k: response[k] for k in NO_STORE} == NO_STORE
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["email", "first_name", "last_name", "password", "provider"],
        *[
            [email, first, "Roe", password, "Google"]
            for email, first, password in zip(
                EMAILS, ["Jane", "John", "Jane"], passwords(remote), strict=True
            )
        ],
    ]
    assert audit(delivered) == [
        (
            EventKind.CREDENTIALS_DOWNLOADED,
            "leo",
            {
                "summary": "3 mailboxes: " + ", ".join(EMAILS),
                "mailboxes": EMAILS,
                "pending": 0,
            },
        )
    ]
    assert [m.to for m in mail.outbox] == [["ada@example.test"]]


def test_a_download_that_fails_shows_the_page_with_the_problem(
    client, lead, delivered, remote, django_capture_on_commit_callbacks
):
    switches_set(workspace=remote.sandbox, error_5xx_remaining=20)
    client.force_login(lead)

    response = client.post(url(delivered, "credentials_csv"))

    assert response["Content-Type"].startswith("text/html")
    assert "Instantly did not answer in time" in text(response)
    assert {k: response[k] for k in NO_STORE} == NO_STORE
    assert audit(delivered) == []


def test_csv_cells_typed_by_people_cannot_run_as_formulas_passwords_stay_exact():
    rows = credentials.credentials_csv(
        [
            credentials.Credential(
                email="a@x.com",
                first_name='=HYPERLINK("http://evil")',
                last_name="+1",
                provider="Google",
                password="-secret",
            ),
            credentials.Credential(
                email="b@x.com",
                first_name="B",
                last_name="C",
                provider="Google",
                password="",
            ),
        ]
    )

    assert list(csv.reader(io.StringIO(rows))) == [
        list(credentials.CSV_COLUMNS),
        ["a@x.com", '\'=HYPERLINK("http://evil")', "'+1", "-secret", "Google"],
    ]


def test_a_credential_never_shows_its_password_in_repr():
    c = credentials.Credential(
        email="a@x.com",
        first_name="A",
        last_name="B",
        provider="Google",
        password="hunter2",
    )

    assert "hunter2" not in repr(c)


def test_the_summary_names_ten_and_counts_the_rest():
    emails = [f"m{n}@x.com" for n in range(12)]

    assert credentials.summary_of(emails[:1]) == "1 mailbox: m0@x.com"
    assert credentials.summary_of(emails) == (
        "12 mailboxes: " + ", ".join(emails[:10]) + " and 2 more"
    )


# --- Nowhere else: database, cache, logs, later pages ----------------------------------------


def everything_in_the_database() -> str:
    """Every row of every portal table as text (the sandbox's tables are the remote's own
    storage, Instantly's side, and are left out), plus every decoded session."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table.startswith("sandbox_"):
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    chunks.extend(repr(s.get_decoded()) for s in Session.objects.all())
    return "\n".join(chunks)


def everything_in_the_cache() -> bytes:
    location = settings.CACHES["default"]["LOCATION"]
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        import redis

        server = redis.Redis.from_url(location)
        values = []
        for key in server.scan_iter():
            kind = server.type(key)
            if kind == b"string":
                values.append(key + b"=" + (server.get(key) or b""))
            elif kind == b"list":
                values.extend(server.lrange(key, 0, -1))
            elif kind == b"hash":
                values.extend(
                    field + value for field, value in server.hgetall(key).items()
                )
            else:
                values.append(key)
        return b"\n".join(values)
    # FileBasedCache: a pickled expiry, then the zlib-compressed pickled value.
    import pickle
    import zlib
    from pathlib import Path

    values = []
    for path in Path(location).rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                pickle.load(f)  # noqa: S301 (our own test cache)
                values.append(zlib.decompress(f.read()))
    return b"\n".join(values)


def test_passwords_reach_no_table_cache_log_or_later_page(
    client, lead, delivered, remote, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "orders", "django", "sandbox"):
        caplog.set_level(logging.DEBUG, logger=name)
    secrets = passwords(remote)
    cache.set("h3-canary", "visible")  # proves the cache scan reads what is stored

    shown = reveal(client, lead, delivered, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        downloaded = client.post(url(delivered, "credentials_csv"))
    assert all(p in shown.content.decode() for p in secrets)
    assert all(p in downloaded.content.decode() for p in secrets)

    database = everything_in_the_database()
    assert "3 mailboxes: jane@acme-mail.com" in database  # the scan sees the audit rows
    assert not [p for p in secrets if p in database]

    stored = everything_in_the_cache()
    assert b"visible" in stored
    assert not [p for p in secrets if p.encode() in stored]

    logged = caplog.text + "\n".join(
        repr(r.args) + repr(r.__dict__) for r in caplog.records
    )
    assert "with_passwords" in logged  # the client's request lines were captured
    assert not [p for p in secrets if p in logged]

    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    pages = [
        client.get(delivered.get_absolute_url()),
        client.get(url(delivered)),
        client.get(reverse("orders:list", kwargs={"slug": "acme"})),
        client.get(reverse("orders:dashboard", kwargs={"slug": "acme"})),
    ]
    client.force_login(staff)
    pages += [
        client.get(reverse("admin:orders_order_change", args=[delivered.pk])),
        client.get(reverse("admin:orders_orderevent_changelist")),
    ]
    for page in pages:
        assert page.status_code == 200, page.request["PATH_INFO"]
        body = text(page)
        assert not [p for p in secrets if p in body], page.request["PATH_INFO"]
    # ...while the timeline says who fetched which mailboxes.
    timeline = text(pages[0])
    assert "Credentials revealed" in timeline
    assert "Credentials downloaded (CSV)" in timeline
    assert (
        "by leo: 3 mailboxes: jane@acme-mail.com, john@acme-mail.com, jane@tryacme.org"
        in timeline
    )


# --- Reading only the pages needed ---------------------------------------------------------


@pytest.fixture
def three_orders(  # type: ignore[no-untyped-def]
    workspace, operator, lead, remote, monkeypatch, django_capture_on_commit_callbacks
):
    """Listed oldest first: before (2 mailboxes), target (3), after (2); all ready."""
    capture = django_capture_on_commit_callbacks
    people = [JANE, JOHN]
    before = place(
        workspace, operator, lead, [("early-mail.com", 1, people)], monkeypatch, capture
    )
    target = place(
        workspace,
        operator,
        lead,
        [("acme-mail.com", 1, people), ("tryacme.org", 1, [JANE])],
        monkeypatch,
        capture,
    )
    after = place(
        workspace, operator, lead, [("late-mail.com", 1, people)], monkeypatch, capture
    )
    deliver(workspace, remote, capture)
    # One mailbox a page, so the number of pages read is visible.
    monkeypatch.setattr(instantly, "MAX_PAGE_SIZE", 1)
    return before, target, after


def cursor_before(workspace, email):  # type: ignore[no-untyped-def]
    """The accounts cursor whose page starts with `email`, as the poll would store it."""
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        for page in client.account_pages(page_size=1):
            if page.items[0].email == email:
                return client.limiter_bucket, page.starting_after
    raise AssertionError(email)


def revealed_with(workspace, order, lead):  # type: ignore[no-untyped-def]
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        result = credentials.credentials_reveal(order=order, by=lead, client=client)
    return result


def test_a_ready_order_reads_from_the_start_until_its_last_address(
    workspace, lead, three_orders, remote
):
    _before, target, _after = three_orders
    requests = remote.requests("accounts")

    result = revealed_with(workspace, target, lead)

    assert sorted(result.revealed) == sorted(EMAILS)
    # Two pages of the earlier order, three of this one; the later order is not read.
    assert result.api_calls == 5
    assert remote.requests("accounts") - requests == 5


def test_an_order_in_flight_starts_at_the_poll_cursor(
    workspace, lead, three_orders, remote
):
    _before, target, _after = three_orders
    Mailbox.objects.filter(item__order=target).update(status=MailboxStatus.PROVISIONING)
    first = (
        DfyAccount.objects.filter(
            workspace=remote.sandbox, domain__in=["acme-mail.com", "tryacme.org"]
        )
        .order_by("timestamp_created", "id")
        .first()
    )
    bucket, after = cursor_before(workspace, first.email)
    PollCursor.objects.update_or_create(
        workspace=workspace, defaults={"issued_to": bucket, "accounts_after": after}
    )

    result = revealed_with(workspace, target, lead)

    assert sorted(result.revealed) == sorted(EMAILS)
    assert result.api_calls == 3


def test_addresses_before_the_cursor_are_read_up_to_it_only(
    workspace, lead, three_orders, remote
):
    _before, target, _after = three_orders
    Mailbox.objects.filter(item__order=target).update(status=MailboxStatus.PROVISIONING)
    ours = list(
        DfyAccount.objects.filter(
            workspace=remote.sandbox, domain__in=["acme-mail.com", "tryacme.org"]
        ).order_by("timestamp_created", "id")
    )
    bucket, after = cursor_before(workspace, ours[1].email)
    PollCursor.objects.update_or_create(
        workspace=workspace, defaults={"issued_to": bucket, "accounts_after": after}
    )

    result = revealed_with(workspace, target, lead)

    assert sorted(result.revealed) == sorted(EMAILS)
    # From the cursor: our second and third, the later order's two, the end (an empty
    # page is not asked for: the last page has no cursor). Then from the start: the
    # earlier order's two and our first.
    assert result.api_calls == 4 + 3


@pytest.mark.parametrize("issued_to", ["another-key", None])
def test_a_cursor_of_another_key_or_refused_is_not_trusted(
    workspace, lead, three_orders, remote, issued_to
):
    _before, target, _after = three_orders
    Mailbox.objects.filter(item__order=target).update(status=MailboxStatus.PROVISIONING)
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        bucket = client.limiter_bucket
    PollCursor.objects.update_or_create(
        workspace=workspace,
        defaults={"issued_to": issued_to or bucket, "accounts_after": "stale:cursor"},
    )

    result = revealed_with(workspace, target, lead)

    assert sorted(result.revealed) == sorted(EMAILS)
    # From the start (after one refused page when the cursor was ours).
    assert result.api_calls == (5 if issued_to else 6)


def test_an_address_instantly_does_not_list_is_looked_for_once_around_the_list(
    workspace, lead, three_orders, remote
):
    _before, target, _after = three_orders
    item = target.items.get(domain="tryacme.org")
    Mailbox.objects.create(
        item=item,
        email_prefix="ghost",
        first_name="Gus",
        last_name="Ghost",
        position=9,
        status=MailboxStatus.PROVISIONING,
    )
    ours = list(
        DfyAccount.objects.filter(
            workspace=remote.sandbox, domain__in=["acme-mail.com", "tryacme.org"]
        ).order_by("timestamp_created", "id")
    )
    bucket, after = cursor_before(workspace, ours[0].email)
    PollCursor.objects.update_or_create(
        workspace=workspace, defaults={"issued_to": bucket, "accounts_after": after}
    )

    result = revealed_with(workspace, target, lead)

    assert sorted(result.revealed) == sorted(EMAILS)
    (ghost,) = [c for c in result.credentials if c.email == "ghost@tryacme.org"]
    assert (ghost.ready, ghost.listed) == (False, False)
    # From the cursor to the end (ours and the later order's), then the start up to the
    # cursor's page (the earlier order's two), never the same page twice.
    assert result.api_calls == 5 + 2


def test_an_order_whose_mailboxes_are_all_cancelled_has_nothing_to_reveal(
    client, lead, delivered, remote
):
    Mailbox.objects.filter(item__order=delivered).update(status=MailboxStatus.CANCELLED)
    client.force_login(lead)
    before = remote.requests()

    response = client.post(url(delivered))

    assert credentials.NOT_BOUGHT in text(response)
    assert remote.requests() == before
    assert audit(delivered) == []
