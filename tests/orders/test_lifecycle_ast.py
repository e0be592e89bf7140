"""Only orders/lifecycle.py changes an order's status or writes its audit rows.

The test reads every product module's syntax tree (no import, so a module that is never
imported by the suite is still checked) and fails on:
- an assignment to `<something>.status` whose value names `OrderStatus`, or whose target is an
  order by the project's naming (`order`, `locked`, …);
- `.update(status=…)` / `.create(status=…)` on anything but a known non-order model;
- creating an `OrderEvent` (`OrderEvent(...)`, `OrderEvent.objects.<write>`, `.events.create`);
- an order's `health` written (`order.health = …`, `….update(health=…)` on anything but a
  mailbox): it changes through `lifecycle.orders_health_set` only (docs/health.md).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orders", "sandbox", "dfyportal", "bench")
HOME = ROOT / "orders" / "lifecycle.py"
# Names that hold an order in this project; anything else with a `status` (a mailbox, a key,
# a check, a delivery) has its own status and its own enum.
ORDER_NAMES = frozenset({"order", "locked", "o"})
# Models whose `status=` writes are theirs, not an order's.
OTHER_STATUS_OWNERS = (
    "Mailbox",
    "InstantlyKey",
    "PendingInstantlyKey",
    "DomainCheck",
    "NotificationDelivery",
    "Sandbox",
    "RemoteAccount",
)
EVENT_WRITES = frozenset(
    {"create", "bulk_create", "get_or_create", "update_or_create", "update"}
)


def product_modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts and path != HOME:
                yield path


def mentions(node: ast.AST, name: str) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == name)
        or (isinstance(n, ast.Attribute) and n.attr == name)
        for n in ast.walk(node)
    )


def base_name(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def chain_text(node: ast.AST) -> str:
    return ast.unparse(node)


def offences(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "health"
                    and base_name(target.value) in ORDER_NAMES
                ):
                    yield node.lineno, f"writes {chain_text(target)}"
                if not (isinstance(target, ast.Attribute) and target.attr == "status"):
                    continue
                value = node.value
                owner = base_name(target.value)
                if (value is not None and mentions(value, "OrderStatus")) or (
                    owner in ORDER_NAMES
                ):
                    yield node.lineno, f"writes {chain_text(target)}"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = chain_text(func)
        if isinstance(func, ast.Name) and func.id == "OrderEvent":
            yield node.lineno, "builds an OrderEvent"
        if isinstance(func, ast.Attribute):
            if func.attr in EVENT_WRITES and (
                "OrderEvent" in called or ".events." in f".{called}"
            ):
                yield node.lineno, f"writes events: {called}"
            if func.attr in {"update", "create", "bulk_create", "update_or_create"}:
                if (
                    any(k.arg == "health" for k in node.keywords)
                    and "Mailbox" not in called
                ):
                    yield node.lineno, f"{called}(health=…)"
                status = [k for k in node.keywords if k.arg == "status"]
                other = any(m in called for m in OTHER_STATUS_OWNERS)
                if (
                    status
                    and not other
                    and (mentions(status[0].value, "OrderStatus") or "Order." in called)
                ):
                    yield node.lineno, f"{called}(status=…)"


def test_only_the_lifecycle_module_writes_order_statuses_and_events() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in product_modules()
        for line, what in offences(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "status writes or audit rows outside orders/lifecycle.py"


@pytest.mark.parametrize(
    "source",
    [
        "order.status = OrderStatus.READY",
        "locked.status = target",
        "x.status: str = OrderStatus.DRAFT",
        "Order.objects.filter(pk=1).update(status=OrderStatus.PLACED)",
        "Order.objects.filter(pk=1).update(status=target)",
        "OrderEvent.objects.create(order=o, kind='x')",
        "OrderEvent.objects.bulk_create(rows)",
        "order.events.create(kind='x')",
        "OrderEvent(order=o, kind='x')",
        "order.health = OrderHealth.LIVE",
        "Order.objects.filter(pk=1).update(health='live')",
    ],
)
def test_the_check_finds_each_kind_of_write(source: str) -> None:
    assert list(offences(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    [
        "mailbox.status = MailboxStatus.READY",
        "check.status = CheckStatus.DONE",
        "key.status = KeyStatus.OK",
        "Mailbox.objects.filter(pk=1).update(status=MailboxStatus.CANCELLED)",
        "InstantlyKey.objects.filter(pk=1).update(status=status)",
        "Order.objects.filter(status=OrderStatus.DRAFT)",
        "order.events.filter(kind='x')",
        "Mailbox.objects.filter(pk=1).update(health='connected')",
        "Order.objects.filter(pk=1).update(health_checked_at=now)",
    ],
)
def test_the_check_leaves_other_statuses_and_reads_alone(source: str) -> None:
    assert list(offences(ast.parse(source))) == []
