"""Webhooks: they reach only public addresses (checked after resolving, connected to the checked
address), are delivered by a task with retries and a per-attempt record, and are signed the
way docs/webhooks.md tells receivers to verify."""

from __future__ import annotations

import re
import ssl
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpcore
import httpx
import pytest
from celery.exceptions import Retry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import crypto, notifications, tasks, webhooks
from orders.models import DeliveryStatus, NotificationDelivery, OrderStatus
from tests.factories import MembershipFactory, OrderFactory, UserFactory
from tests.integration.support import TaskQueue, submitted_order
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"
HOOK_URL = "https://hooks.example.test/dfy?token=s3cr3t-token"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


class Receiver:
    """The far end of the webhook as an httpx.MockTransport: keeps every request and answers
    with the next status from `answers` (the last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[int] = [204]
        self.hang_seconds = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status)


class Resolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.addresses


@pytest.fixture
def resolver(monkeypatch):  # type: ignore[no-untyped-def]
    stub = Resolver(PUBLIC_IP)
    monkeypatch.setattr(notifications, "webhook_resolver", stub)
    return stub


@pytest.fixture
def receiver(monkeypatch, workspace, resolver):  # type: ignore[no-untyped-def]
    far_end = Receiver()
    workspace.webhook_url = HOOK_URL
    workspace.save()
    monkeypatch.setattr(
        notifications, "webhook_transport", httpx.MockTransport(far_end)
    )
    return far_end


@pytest.fixture
def secret(workspace):  # type: ignore[no-untyped-def]
    return webhooks.webhook_secret_rotate(workspace=workspace)


@pytest.fixture
def order(workspace, operator, lead, remote):  # type: ignore[no-untyped-def]
    return submitted_order(workspace, operator)


def deliver(order, channel: str = "webhook", event_id: str | None = None, **kw):  # type: ignore[no-untyped-def]
    return notifications.notification_deliver(
        order_id=order.pk,
        event=kw.pop("event", "approved"),
        event_id=event_id or str(uuid.uuid4()),
        channel=channel,
        final=kw.pop("final", True),
    )


def post(url: str, resolver: Resolver, transport: httpx.BaseTransport):  # type: ignore[no-untyped-def]
    return webhooks.webhook_post(
        url=url, body=b"{}", headers={}, resolver=resolver, transport=transport
    )


# --- item 4: no private networks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("https://localhost.localdomain/hook", ["127.0.0.1"]),
        ("https://127.0.0.1.nip.io/hook", ["127.0.0.1"]),
        ("https://intranet.example.test/hook", ["10.0.0.5"]),  # a hosts-file entry
        ("https://metadata.example.test/hook", ["169.254.169.254"]),
        ("https://mixed.example.test/hook", [PUBLIC_IP, "192.168.1.10"]),
        ("https://v6.example.test/hook", ["::1"]),
        ("https://v6.example.test/hook", ["fd00::1"]),
        ("https://v6.example.test/hook", ["fe80::1"]),
        ("https://v6.example.test/hook", ["::127.0.0.1"]),
        ("https://v6.example.test/hook", ["::ffff:10.0.0.1"]),
        ("https://v6.example.test/hook", ["64:ff9b::7f00:1"]),
        ("https://v6.example.test/hook", ["64:ff9b::a9fe:a9fe"]),
        ("https://v6.example.test/hook", ["2002:7f00:1::"]),
        ("https://v6.example.test/hook", ["2002:c0a8:101::1"]),
        ("https://[::127.0.0.1]/hook", []),
        ("https://[64:ff9b::7f00:1]/hook", []),
        ("https://[2002:7f00:1::]/hook", []),
        ("https://[::ffff:127.0.0.1]/hook", []),
    ],
)
def test_a_name_or_address_that_leads_inside_is_refused_without_connecting(
    url, resolves_to
):
    far_end = Receiver()

    result = post(url, Resolver(*resolves_to), httpx.MockTransport(far_end))

    assert far_end.requests == []
    assert not result.delivered
    assert not result.retry  # a refusal is final
    assert (
        "private, loopback or reserved" in result.error or "public host" in result.error
    )


@pytest.mark.parametrize(
    ("url", "resolves_to", "connected_host"),
    [
        ("https://hooks.example.test/dfy?x=1", [PUBLIC_IP], PUBLIC_IP),
        (
            "https://hooks.example.test:8443/dfy",
            ["2606:4700::6810:84e5"],
            "2606:4700::6810:84e5",
        ),
        ("https://[64:ff9b::808:808]/dfy", [], "64:ff9b::808:808"),
    ],
)
def test_a_public_address_passes_and_is_the_one_connected_to(
    url, resolves_to, connected_host
):
    far_end = Receiver()
    names = Resolver(*resolves_to)

    result = post(url, names, httpx.MockTransport(far_end))

    assert result.delivered
    [request] = far_end.requests
    assert request.url.host == connected_host
    assert request.headers["host"] == httpx.URL(url).netloc.decode()
    assert len(names.calls) == len(resolves_to[:1])  # looked up once, or not at all
    if names.calls:
        assert request.extensions["sni_hostname"] == "hooks.example.test"


class RecordingBackend(httpcore.NetworkBackend):
    """httpcore's network layer, recording where the real transport connects and which name
    it hands to TLS, then stopping before any byte leaves."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.tls: list[tuple[str | None, bool, ssl.VerifyMode]] = []

    def connect_tcp(
        self, host, port, timeout=None, local_address=None, socket_options=None
    ):  # type: ignore[no-untyped-def]
        self.connects.append((host, port))
        return RecordingStream(self)


class RecordingStream(httpcore.NetworkStream):
    def __init__(self, backend: RecordingBackend) -> None:
        self.backend = backend

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
        self.backend.tls.append(
            (server_hostname, ssl_context.check_hostname, ssl_context.verify_mode)
        )
        raise httpcore.ConnectError("stopped by the test")

    def close(self) -> None:
        pass


def test_the_real_transport_dials_the_checked_ip_and_verifies_tls_for_the_name():
    backend = RecordingBackend()
    transport = httpx.HTTPTransport()
    transport._pool._network_backend = backend  # the socket layer only

    result = post("https://hooks.example.test/dfy", Resolver(PUBLIC_IP), transport)

    assert backend.connects == [(PUBLIC_IP, 443)]
    assert backend.tls == [("hooks.example.test", True, ssl.CERT_REQUIRED)]
    assert not result.delivered
    assert result.retry
    assert "could not be reached" in result.error


def test_redirects_are_not_followed():
    far_end = Receiver()
    far_end.answers = [302]

    def redirect(request: httpx.Request) -> httpx.Response:
        far_end.requests.append(request)
        return httpx.Response(302, headers={"Location": "https://127.0.0.1/steal"})

    result = post(
        "https://hooks.example.test/dfy",
        Resolver(PUBLIC_IP),
        httpx.MockTransport(redirect),
    )

    assert len(far_end.requests) == 1
    assert not result.delivered
    assert result.http_status == 302
    assert "redirect" in result.error


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.test/dfy", True),
        ("https://hooks.example.test:443/dfy", True),
        ("https://hooks.example.test:8443/dfy", True),
        ("https://hooks.example.test:8080/dfy", False),
        ("https://hooks.example.test:22/dfy", False),
    ],
)
def test_only_the_allowed_ports(url, allowed):
    far_end = Receiver()

    result = post(url, Resolver(PUBLIC_IP), httpx.MockTransport(far_end))

    assert (webhooks.url_problem(url) is None) is allowed
    assert result.delivered is allowed
    assert len(far_end.requests) == int(allowed)


def test_a_setting_allows_other_ports(settings):
    settings.DFY_WEBHOOK_ALLOWED_PORTS = [443, 9443]

    assert webhooks.url_problem("https://hooks.example.test:9443/dfy") is None
    assert "port 443, 9443" in str(
        webhooks.url_problem("https://hooks.example.test:8443/")
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]/hook",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[2002:7f00:1::]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://host.localdomain/hook",
        "https://hooks.example.test:8080/hook",
    ],
)
def test_the_settings_form_refuses_them_too(client, workspace, ws_admin, url):
    client.force_login(ws_admin)

    response = client.post(
        reverse("orders:settings", args=[workspace.slug]),
        {"ws-approval_policy": "always", "ws-webhook_url": url},
    )

    workspace.refresh_from_db()
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert workspace.webhook_url == ""


def test_a_name_that_turns_private_at_send_time_is_recorded_and_not_retried(
    workspace, order, receiver, resolver, secret
):
    resolver.addresses = ["10.1.2.3"]

    outcome = deliver(order, final=False)

    delivery = NotificationDelivery.objects.get()
    assert receiver.requests == []
    assert not outcome.retry
    assert delivery.status == DeliveryStatus.FAILED
    assert "10.1.2.3, a private, loopback or reserved address" in delivery.error


# --- item 5: out of the request thread, retried, recorded ---------------------------------


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """What the request thread hands to the broker, instead of the conftest's direct call."""
    return recorded(monkeypatch, "orders.deliver_notification")


def test_approving_with_a_hanging_webhook_only_enqueues(
    client,
    workspace,
    lead,
    order,
    receiver,
    secret,
    enqueued,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    receiver.hang_seconds = 10
    TaskQueue(monkeypatch)  # placement is not the subject here
    client.force_login(lead)

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:approve", args=[workspace.slug, order.pk]),
            {"comment": "ok", "quote": order.approved_quote_id},
        )
    elapsed = time.monotonic() - started

    order.refresh_from_db()
    assert response.status_code in (200, 302)
    assert order.status == OrderStatus.APPROVED
    assert receiver.requests == []  # the request thread made no webhook call at all
    assert sorted((m["event"], m["channel"]) for m in enqueued) == [
        ("approved", "email"),
        ("approved", "webhook"),
    ]
    assert len({m["event_id"] for m in enqueued}) == 1
    assert elapsed < 5  # generous: the hanging receiver alone would take 10 s

    receiver.hang_seconds = 0
    for message in enqueued:
        tasks.deliver_notification_task(**message)
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["x-dfy-event-id"] == enqueued[0]["event_id"]


def test_submitting_only_enqueues(
    workspace,
    operator,
    lead,
    remote,
    receiver,
    secret,
    enqueued,
    django_capture_on_commit_callbacks,
):
    receiver.hang_seconds = 10

    with django_capture_on_commit_callbacks(execute=True):
        submitted_order(workspace, operator)

    assert receiver.requests == []
    assert mail.outbox == []
    assert sorted(m["channel"] for m in enqueued) == ["email", "webhook"]


def run_as_worker(monkeypatch, retries: int, **kwargs):  # type: ignore[no-untyped-def]
    """Run the task body as a worker would on its `retries`-th retry; returns the retry it
    asked for (or None)."""
    task = tasks.deliver_notification_task
    asked: list[dict[str, object]] = []

    def retry(**options: object) -> Retry:
        asked.append(options)
        return Retry("retry requested")

    monkeypatch.setattr(task, "retry", retry)
    task.push_request(called_directly=False, retries=retries)
    try:
        task.run(**kwargs)
    except Retry:
        pass
    finally:
        task.pop_request()
    return asked[0] if asked else None


def test_a_failing_webhook_is_retried_with_backoff_and_never_resends_the_email(
    order, receiver, secret, monkeypatch, settings
):
    settings.DFY_NOTIFICATION_MAX_ATTEMPTS = 4
    settings.DFY_NOTIFICATION_RETRY_BASE_SECONDS = 30
    receiver.answers = [503, 500, 204]
    message = {"order_id": order.pk, "event": "approved", "event_id": str(uuid.uuid4())}
    mail.outbox.clear()

    run_as_worker(monkeypatch, 0, channel="email", **message)
    retries = [
        run_as_worker(monkeypatch, n, channel="webhook", **message) for n in range(3)
    ]

    webhook_rows = NotificationDelivery.objects.filter(channel="webhook").order_by(
        "attempt"
    )
    assert [(d.attempt, d.status, d.http_status) for d in webhook_rows] == [
        (1, DeliveryStatus.RETRYING, 503),
        (2, DeliveryStatus.RETRYING, 500),
        (3, DeliveryStatus.DELIVERED, 204),
    ]
    assert [r is not None for r in retries] == [True, True, False]
    assert retries[0]["max_retries"] == 3
    assert 0 <= retries[0]["countdown"] <= 30
    assert 0 <= retries[1]["countdown"] <= 60
    assert len(mail.outbox) == 1
    assert NotificationDelivery.objects.filter(channel="email").count() == 1
    assert all(d.duration_ms is not None for d in webhook_rows)


def test_the_last_attempt_gives_up(order, receiver, secret, monkeypatch, settings):
    settings.DFY_NOTIFICATION_MAX_ATTEMPTS = 2
    receiver.answers = [500]
    message = {
        "order_id": order.pk,
        "event": "approved",
        "event_id": str(uuid.uuid4()),
        "channel": "webhook",
    }

    first = run_as_worker(monkeypatch, 0, **message)
    last = run_as_worker(monkeypatch, 1, **message)

    assert first is not None
    assert last is None
    assert list(
        NotificationDelivery.objects.order_by("attempt").values_list(
            "status", flat=True
        )
    ) == [DeliveryStatus.RETRYING, DeliveryStatus.FAILED]


def test_a_redelivered_message_for_a_delivered_event_does_nothing(
    order, receiver, secret
):
    message = {"order_id": order.pk, "event": "placed", "event_id": str(uuid.uuid4())}
    mail.outbox.clear()

    for _ in range(2):
        tasks.deliver_notification_task(channel="webhook", **message)
        tasks.deliver_notification_task(channel="email", **message)

    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1
    assert NotificationDelivery.objects.count() == 2


def test_an_attempt_in_flight_elsewhere_is_left_alone(
    order, receiver, secret, workspace
):
    event_id = str(uuid.uuid4())
    NotificationDelivery.objects.create(
        workspace=workspace,
        order=order,
        event="approved",
        channel="webhook",
        event_id=event_id,
        attempt=1,
    )

    outcome = deliver(order, event_id=event_id)

    assert outcome.delivery is None
    assert receiver.requests == []


def test_a_message_back_while_an_attempt_is_in_flight_comes_back_later(
    order, receiver, secret, workspace
):
    # A worker died mid-attempt and its message returned at once (reject on worker lost):
    # acknowledging it now would lose the event, so it asks to run again after the window.
    event_id = str(uuid.uuid4())
    NotificationDelivery.objects.create(
        workspace=workspace,
        order=order,
        event="approved",
        channel="webhook",
        event_id=event_id,
        attempt=1,
    )

    outcome = deliver(order, event_id=event_id, final=False)

    assert outcome.delivery is None
    assert outcome.retry is True
    assert 1 <= (outcome.retry_in or 0) <= notifications.IN_FLIGHT_SECONDS + 1
    assert receiver.requests == []


def test_an_attempt_left_sending_past_the_window_is_marked_abandoned_and_sent_again(
    order, receiver, secret, workspace
):
    event_id = str(uuid.uuid4())
    dead = NotificationDelivery.objects.create(
        workspace=workspace,
        order=order,
        event="approved",
        channel="webhook",
        event_id=event_id,
        attempt=1,
    )
    NotificationDelivery.objects.filter(pk=dead.pk).update(
        created_at=timezone.now()
        - timedelta(seconds=notifications.IN_FLIGHT_SECONDS + 5)
    )

    outcome = deliver(order, event_id=event_id)

    dead.refresh_from_db()
    assert outcome.delivery is not None
    assert outcome.delivery.attempt == 2
    assert outcome.delivery.status == DeliveryStatus.DELIVERED
    assert dead.status == DeliveryStatus.FAILED
    assert "Abandoned" in dead.error
    assert len(receiver.requests) == 1


def test_no_secret_means_nothing_is_sent_and_the_reason_is_recorded(order, receiver):
    deliver(order)

    delivery = NotificationDelivery.objects.get()
    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED
    assert "no webhook signing secret" in delivery.error


def test_errors_recorded_and_logged_carry_no_url_or_token(
    order, receiver, secret, caplog, monkeypatch
):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.url}", request=request)

    monkeypatch.setattr(notifications, "webhook_transport", httpx.MockTransport(refuse))

    deliver(order)

    delivery = NotificationDelivery.objects.get()
    assert delivery.error == "The webhook could not be reached (ConnectError)."
    assert "s3cr3t-token" not in caplog.text
    assert "hooks.example.test" not in caplog.text


# --- the deliveries on the settings page ----------------------------------------------------


def test_admins_see_the_workspace_deliveries_newest_first_and_bounded(
    client, workspace, other_workspace, ws_admin, operator
):
    mine = OrderFactory(workspace=workspace, requester=operator, title="Mine")
    theirs = OrderFactory(workspace=other_workspace, title="Theirs")
    rows = [
        NotificationDelivery(
            workspace=workspace,
            order=mine,
            event="approved",
            channel="webhook",
            event_id=uuid.uuid4(),
            attempt=1,
            status=DeliveryStatus.RETRYING,
            http_status=500,
            duration_ms=12,
            error=f"attempt number {n:03d}",
        )
        for n in range(60)
    ]
    NotificationDelivery.objects.bulk_create(rows)
    NotificationDelivery.objects.create(
        workspace=other_workspace,
        order=theirs,
        event="approved",
        channel="email",
        event_id=uuid.uuid4(),
        attempt=1,
        error="globex private problem",
    )
    client.force_login(ws_admin)

    html = client.get(
        reverse("orders:settings", args=[workspace.slug])
    ).content.decode()

    section = html[html.index('id="notification-deliveries"') :]
    shown = re.findall(r"attempt number (\d{3})", section)
    assert len(shown) == 50
    assert shown[0] == "059"
    assert shown == sorted(shown, reverse=True)
    assert "globex private problem" not in html
    assert "Failed, will retry" in section


@pytest.mark.parametrize("role", ["operator", "lead"])
def test_only_admins_see_deliveries_and_rotate_the_secret(client, workspace, role):
    user = MembershipFactory(workspace=workspace, role=role, user=UserFactory()).user
    client.force_login(user)

    page = client.get(reverse("orders:settings", args=[workspace.slug]))
    rotate = client.post(
        reverse("orders:settings", args=[workspace.slug]),
        {"rotate_webhook_secret": ""},
    )

    workspace.refresh_from_db()
    assert page.status_code == rotate.status_code == 403
    assert workspace.webhook_secret_encrypted == ""


# --- item 6: signed, with a secret shown once -------------------------------------------------

SECRET_RE = re.compile(r"whsec_[A-Za-z0-9_-]{40,}")


def test_rotating_shows_the_new_secret_once_and_stores_it_encrypted(
    client, workspace, ws_admin
):
    client.force_login(ws_admin)
    url = reverse("orders:settings", args=[workspace.slug])

    first = client.post(url, {"rotate_webhook_secret": ""})
    second = client.post(url, {"rotate_webhook_secret": ""})
    later = client.get(url)

    workspace.refresh_from_db()
    [old] = SECRET_RE.findall(first.content.decode())
    [new] = SECRET_RE.findall(second.content.decode())
    assert old != new
    assert "no-store" in first["Cache-Control"]
    assert SECRET_RE.search(later.content.decode()) is None
    assert new not in workspace.webhook_secret_encrypted
    assert crypto.decrypt(workspace.webhook_secret_encrypted) == new
    assert "Rotate signing secret" in later.content.decode()


def test_the_first_webhook_url_gets_a_secret_shown_once(client, workspace, ws_admin):
    client.force_login(ws_admin)
    url = reverse("orders:settings", args=[workspace.slug])
    form = {
        "ws-approval_policy": "always",
        "ws-webhook_url": "https://hooks.example.test/dfy",
    }

    first = client.post(url, form)
    again = client.post(url, form)

    workspace.refresh_from_db()
    [shown] = SECRET_RE.findall(first.content.decode())
    assert webhooks.webhook_secret(workspace) == shown
    assert again.status_code == 302  # the secret exists: nothing new to show


def test_every_delivery_is_signed_over_timestamp_and_body(order, receiver, secret):
    event_id = str(uuid.uuid4())

    deliver(order, event_id=event_id)

    [request] = receiver.requests
    header = request.headers["x-dfy-signature"]
    timestamp, digest = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header).groups()
    assert abs(int(timestamp) - time.time()) < 60
    assert digest == webhooks.signature(
        secret=secret, timestamp=int(timestamp), body=request.content
    )
    assert request.headers["x-dfy-event-id"] == event_id
    assert request.headers["x-dfy-event"] == "order.approved"
    assert secret not in request.content.decode()
    assert b'"id": "' + event_id.encode() in request.content


def docs_example() -> dict[str, object]:
    """Run the Python block of docs/webhooks.md and return what it defines."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/webhooks.md should have exactly one Python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOCS), "exec"), namespace)  # noqa: S102 -- our own docs
    return namespace


def test_the_documented_verification_accepts_a_real_delivery_and_nothing_else(
    order, receiver, secret, workspace
):
    verify = docs_example()["verify_dfy_webhook"]
    deliver(order)
    [request] = receiver.requests
    header = request.headers["x-dfy-signature"]
    signed_at = int(header.split(",")[0][2:])
    rotated = webhooks.webhook_secret_rotate(workspace=workspace)

    assert verify(secret, header, request.content) is True
    assert verify(secret, header, request.content.replace(b"Q3", b"Q4")) is False
    assert verify(rotated, header, request.content) is False
    assert verify(secret, header, request.content, now=signed_at + 301) is False
    assert verify(secret, header, request.content, now=signed_at - 301) is False
    assert verify(secret, "v1=deadbeef", request.content) is False


# --- a real TLS handshake: the certificate is checked for the name, not the IP ---------------


def _certificate_authority(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `name` signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def pem_key(key) -> bytes:  # type: ignore[no-untyped-def]
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = (
        tmp_path / "ca.pem",
        tmp_path / "cert.pem",
        tmp_path / "key.pem",
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(pem_key(key))
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_receiver(tmp_path):  # type: ignore[no-untyped-def]
    """An HTTPS server on 127.0.0.1 (any free port) whose certificate names
    hooks.example.test; records the SNI and Host it was given."""
    import http.server
    import threading

    seen: dict[str, list[str]] = {"sni": [], "host": []}

    def serve(cert_name: str):  # type: ignore[no-untyped-def]
        ca_file, cert_file, key_file = _certificate_authority(
            tmp_path / cert_name, cert_name
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen["host"].append(self.headers["Host"])
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], ssl.create_default_context(cafile=str(ca_file))

    servers: list[object] = []
    yield serve, seen
    for server in servers:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cert_name", "delivered"),
    [("hooks.example.test", True), ("elsewhere.example.test", False)],
)
def test_tls_to_the_checked_ip_verifies_the_certificate_for_the_name(
    tls_receiver, monkeypatch, settings, cert_name, delivered
):
    serve, seen = tls_receiver
    port, trust = serve(cert_name)
    settings.DFY_WEBHOOK_ALLOWED_PORTS = [port]
    # Only here is loopback acceptable: it stands in for the public address.
    monkeypatch.setattr(webhooks, "address_problem", lambda address: None)

    result = post(
        f"https://hooks.example.test:{port}/dfy",
        Resolver("127.0.0.1"),
        httpx.HTTPTransport(verify=trust),
    )

    assert result.delivered is delivered
    assert seen["sni"][:1] == ["hooks.example.test"]
    assert seen["host"] == ([f"hooks.example.test:{port}"] if delivered else [])


def test_signing_secrets_follow_an_encryption_key_rotation(workspace, settings):
    from cryptography.fernet import Fernet

    clear = webhooks.webhook_secret_rotate(workspace=workspace)
    old_keys = list(settings.DFY_ENCRYPTION_KEYS)
    settings.DFY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]

    assert webhooks.webhook_secrets_reencrypt() == 1
    workspace.refresh_from_db()
    settings.DFY_ENCRYPTION_KEYS = settings.DFY_ENCRYPTION_KEYS[:1]
    assert webhooks.webhook_secret(workspace) == clear
