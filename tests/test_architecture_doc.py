"""docs/architecture.md keeps up with the code: its module tree lists exactly the modules there
are, and its lifecycle table is the one in orders/lifecycle.py. On a failure the assertion
shows the text to paste."""

from __future__ import annotations

import re
from pathlib import Path

from orders.lifecycle import TRANSITIONS, OrderStatus

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("orders", "sandbox", "dfyportal")


def block(name: str) -> str:
    text = DOC.read_text()
    found = re.search(f"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert found, f"docs/architecture.md has no {name} block"
    return found.group(1)


def lifecycle_table() -> str:
    """The transition table as the page shows it, rendered from TRANSITIONS."""
    lines = ["| Status | Shown as | Moves to |", "|---|---|---|"]
    for status in OrderStatus:
        targets = sorted(TRANSITIONS.get(status, frozenset()))
        moves = ", ".join(f"`{t}`" for t in targets) or "(final)"
        lines.append(f"| `{status}` | {status.label} | {moves} |")
    return "\n".join(lines) + "\n"


def tree_modules(tree: str) -> set[str]:
    """Module paths of the tree: two spaces per level, a trailing slash for a directory."""
    stack: list[str] = []
    found: set[str] = set()
    for line in tree.splitlines():
        if not line.strip() or line.startswith("```"):
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        del stack[depth:]
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
        else:
            found.add("/".join([*stack, name]))
    return found


def code_modules() -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path.name != "__init__.py"
    }


def test_the_lifecycle_table_is_the_code_s() -> None:
    assert block("lifecycle-table") == lifecycle_table()


def test_the_module_tree_lists_every_module_once() -> None:
    tree = block("layout")
    listed = tree_modules(tree)
    assert sorted(listed - code_modules()) == [], "listed but gone"
    assert sorted(code_modules() - listed) == [], "missing from the tree"


def test_the_tree_parser_follows_indentation() -> None:
    tree = "```\na/\n  b.py  x\n  c/\n    d.py  y\n  e.py  z\nf/\n  g.py\n```\n"
    assert tree_modules(tree) == {"a/b.py", "a/c/d.py", "a/e.py", "f/g.py"}
