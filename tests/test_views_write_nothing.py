"""Views, the admin and template tags change nothing themselves: every write is a call to a
service (docs/architecture.md, "Where each concern lives"). Checked on the syntax tree of each
module, so a write added anywhere in them fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITES = frozenset(
    {
        "save",
        "delete",
        "create",
        "update",
        "bulk_create",
        "bulk_update",
        "get_or_create",
        "update_or_create",
    }
)
# Plain dicts (a template context, a querydict copy) are updated freely.
DICTS = frozenset({"context", "data", "extra", "ctx", "initial", "params"})


def callers() -> list[Path]:
    orders = ROOT / "orders"
    return sorted(
        [
            *orders.glob("*views.py"),
            *(orders / "admin").glob("*.py"),
            *(orders / "templatetags").glob("*.py"),
        ]
    )


def writes(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        if node.func.attr in WRITES and not (
            isinstance(receiver, ast.Name) and receiver.id in DICTS
        ):
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_the_list_of_callers_is_not_empty() -> None:
    names = {p.name for p in callers()}
    assert {"views.py", "builder_views.py", "order_actions.py"} <= names


@pytest.mark.parametrize("path", callers(), ids=lambda p: p.name)
def test_views_admin_and_tags_write_through_services_only(path: Path) -> None:
    assert writes(ast.parse(path.read_text())) == []


def test_the_check_sees_a_write() -> None:
    assert writes(ast.parse("form.save()\nOrder.objects.filter(pk=1).update(x=1)"))
    assert writes(ast.parse("context.update(a=1)")) == []
