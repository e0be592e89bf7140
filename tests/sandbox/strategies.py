"""Hypothesis strategies for the DFY request bodies.

hypothesis-jsonschema's from_schema cannot build objects with the Hypothesis release pinned
here (it calls the removed private `many.more()`), so this builds valid instances for the
small JSON-Schema subset the request bodies use. test_schema.py checks every instance it
draws against the published schema with jsonschema.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# Strings that look like what the fields hold, so generated orders reach deep branches, mixed
# with arbitrary text.
plausible_strings = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"[a-z][a-z0-9-]{0,12}\.(com|org|co|net)", fullmatch=True),
    st.sampled_from(
        [
            "warmleads.com",
            "google-mail.com",
            "ordered.com",
            "user@ordered.com",
            "John",
            " ",
            "",
        ]
    ),
    st.from_regex(r"[a-z][a-z0-9._-]{0,10}", fullmatch=True),
)


def body_strategy(
    schema: dict[str, Any], *, max_items: int = 6
) -> st.SearchStrategy[Any]:
    """Instances valid against `schema` (type, enum, properties, required, items, minItems,
    maxItems), with occasional unknown properties, which the schemas allow."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        known = st.fixed_dictionaries(
            {
                name: body_strategy(sub, max_items=max_items)
                for name, sub in properties.items()
                if name in required
            },
            optional={
                name: body_strategy(sub, max_items=max_items)
                for name, sub in properties.items()
                if name not in required
            },
        )
        unknown = st.dictionaries(
            st.text(max_size=6).filter(lambda k: k not in properties),
            json_values,
            max_size=2,
        )
        return st.tuples(known, unknown).map(lambda pair: {**pair[1], **pair[0]})
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", max_items), max(max_items, low))
        return st.lists(
            body_strategy(schema.get("items", {}), max_items=max_items),
            min_size=low,
            max_size=high,
        )
    if kind == "string":
        return plausible_strings
    if kind == "number":
        return st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "integer":
        return st.integers()
    if kind == "boolean":
        return st.booleans()
    return json_values
