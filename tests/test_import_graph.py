"""The layers of docs/architecture.md, checked on the import graph (grimp, the library under
import-linter, whose simpler contracts `make lint` runs too): views → services → models and the
client; the client knows no models; the sandbox never imports the portal; tasks are sent by
name, so services do not import the task module."""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("orders", "sandbox", "dfyportal")

# Type-only imports are left out: orders/lifecycle.py names the models in annotations only
# (the models import it for their statuses).


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def ours(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in graph.modules if ".migrations" not in m}


def family(graph: grimp.ImportGraph, package: str) -> set[str]:
    return {m for m in graph.modules if m == package or m.startswith(package + ".")}


def views(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in ours(graph) if m.startswith("orders.") and m.endswith("views")}


def imported_by(graph: grimp.ImportGraph, modules: set[str]) -> set[str]:
    return {x for m in modules for x in graph.find_modules_directly_imported_by(m)}


def importers_of(graph: grimp.ImportGraph, modules: set[str]) -> set[str]:
    return {x for m in modules for x in graph.find_modules_that_directly_import(m)}


def cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    nodes = sorted(ours(graph))
    edges = {
        n: sorted(x for x in graph.find_modules_directly_imported_by(n) if x in nodes)
        for n in nodes
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                nxt = edges[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert cycles(graph) == [{"a.b", "a.c"}]


def test_no_import_cycle(graph):
    assert cycles(graph) == []


def test_the_sandbox_never_imports_the_portal(graph):
    assert not graph.chain_exists(
        importer="sandbox", imported="orders", as_packages=True
    )


def test_the_client_knows_no_models_services_or_tasks(graph):
    client = family(graph, "orders.instantly")
    outside = {m for m in imported_by(graph, client) if m.startswith("orders.")}
    assert outside - client == {"orders.ratelimit"}


def test_models_import_no_services_views_tasks_or_client(graph):
    models = family(graph, "orders.models")
    outside = {m for m in imported_by(graph, models) if m.startswith("orders.")}
    assert outside - models == {"orders.crypto", "orders.lifecycle"}


def test_the_lifecycle_sits_below_the_models(graph):
    # It may send tasks by name (its notices) and nothing else of the portal.
    outside = {
        m for m in imported_by(graph, {"orders.lifecycle"}) if m.startswith("orders.")
    }
    assert outside == {"orders.enqueue"}


def test_only_url_configurations_import_views(graph):
    assert importers_of(graph, views(graph)) - views(graph) == {
        "orders.urls",
        "dfyportal.urls",
    }


def test_views_and_admin_reach_instantly_only_through_services(graph):
    callers = views(graph) | family(graph, "orders.admin")
    reached = imported_by(graph, callers)
    assert not reached & (family(graph, "orders.instantly") | {"orders.tasks"})


def test_tasks_are_sent_by_name_not_imported(graph):
    assert graph.find_modules_that_directly_import("orders.tasks") == set()
