"""ORM queries whose SQL is built once per process, for the few reads every keystroke makes.

Django builds a query's SQL afresh on every evaluation: resolving the lookups, the joins and
the selected columns costs about 0.3-0.6 ms of Python per query here, a measurable share of
the quote request the builder sends on every edit (docs/performance.md, "Quote overhead").
A `CompiledValues` is an ordinary `values_list` queryset, written with the ORM as anywhere
else; the first call per database connection has Django compile it, and later calls run that
SQL with the new arguments and Django's own converters for the selected columns. The ORM stays
the only author of the SQL: nothing here writes any.

Arguments are matched to the compiled query's parameters with probe values, distinct per
argument, so a query that uses its arguments in any order (or twice) is bound correctly, and
one that transforms an argument (`iexact`, `contains`) is refused when first compiled rather
than run with a wrong value.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Probes: values no real argument has, one per position and type. The integers stay within
# a 32-bit column's range: Django answers a lookup outside it with an empty result, no SQL.
_PROBE_INT_BASE = -1_000_000_007
_PROBE_TEXT = "\x1fprobe{}\x1f"


class NotCompilable(Exception):
    """The query cannot be compiled once: an argument is transformed by a lookup."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each SQL parameter: the argument's position, or the constant it always has.
    bindings: tuple[tuple[int | None, Any], ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]
    fields: tuple[str, ...]


class CompiledValues:
    """`build(*args)` returns a `values_list` queryset; `rows(*args)` runs it as compiled.

    `types` gives each argument's type (int or str), from which the probes are made.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any, Any]], types: Sequence[type]
    ) -> None:
        if any(kind not in (int, str) for kind in types):
            raise TypeError("arguments must be int or str")
        self._build = build
        self._types = tuple(types)
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    @property
    def fields(self) -> tuple[str, ...]:
        """The selected columns' names, in the order of each row."""
        return self._compile("default").fields

    def rows(self, *args: Any, using: str = "default") -> list[tuple[Any, ...]]:
        compiled = self._compile(using)
        params = [
            args[position] if position is not None else constant
            for position, constant in compiled.bindings
        ]
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        if not compiled.converters:
            return [tuple(row) for row in fetched]
        converted = []
        for raw in fetched:
            row = list(raw)
            for position, functions, expression in compiled.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def _compile(self, using: str) -> _Compiled:
        # Keyed by alias: SQL differs between database engines.
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile_now(using)
                self._compiled[using] = compiled
        return compiled

    def _compile_now(self, using: str) -> _Compiled:
        probes = [
            _PROBE_INT_BASE - index if kind is int else _PROBE_TEXT.format(index)
            for index, kind in enumerate(self._types)
        ]
        queryset = self._build(*probes)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        bindings: list[tuple[int | None, Any]] = []
        for param in params:
            position = next(
                (
                    index
                    for index, probe in enumerate(probes)
                    if type(param) is type(probe) and param == probe
                ),
                None,
            )
            if position is None and _looks_like_probe(param):
                raise NotCompilable(
                    f"an argument is transformed by the query: {param!r}"
                )
            bindings.append((position, None if position is not None else param))
        missing = set(range(len(probes))) - {p for p, _ in bindings if p is not None}
        if missing:
            raise NotCompilable(f"arguments {sorted(missing)} do not reach the SQL")
        selected = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters(selected)
        return _Compiled(
            sql=sql,
            bindings=tuple(bindings),
            converters=tuple(
                (position, tuple(functions), expression)
                for position, (functions, expression) in sorted(converters.items())
            ),
            fields=tuple(getattr(queryset, "_fields", None) or ()),
        )


def _looks_like_probe(param: Any) -> bool:
    if isinstance(param, str):
        return "\x1fprobe" in param
    if isinstance(param, int) and not isinstance(param, bool):
        return param <= _PROBE_INT_BASE + 1 and param > _PROBE_INT_BASE - 1000
    return False


def from_row(
    model: Any,
    values: Sequence[Any],
    attnames: Sequence[str] | None = None,
    using: str = "default",
) -> Any:
    """A model instance as the ORM would build it: from all its concrete fields' values in
    the model's field order (what `values_list(*concrete_attnames(model))` selects), or from
    the values of `attnames`, in any order, the other fields deferred (as with `.only()`)."""
    if attnames is None:
        return model.from_db(using, None, values)
    read = dict(zip(attnames, values, strict=True))
    # `from_db` takes the values in the model's field order.
    ordered = [f.attname for f in model._meta.concrete_fields if f.attname in read]
    return model.from_db(using, ordered, [read[name] for name in ordered])


def concrete_attnames(model: Any, prefix: str = "") -> list[str]:
    return [prefix + field.attname for field in model._meta.concrete_fields]


def chunks(row: Sequence[Any], widths: Sequence[int]) -> list[Sequence[Any]]:
    """`row` cut into consecutive pieces of `widths`."""
    starts = [0, *itertools.accumulate(widths)]
    return [row[start:end] for start, end in itertools.pairwise(starts)]
