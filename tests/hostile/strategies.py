"""Hostile requests: bodies from the served OpenAPI schemas, mostly-valid bodies with one field
made hostile, arbitrary JSON and bytes, wrong content types, odd path and query values."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.helpers import body

FRAGMENTS = [
    "สมชาย",
    "\u0e31\u0e34\u0e47\u0e48\u0e49\u0e4c",  # Thai combining marks (above and below), stacked
    "ก\u0e34\u0e34\u0e34\u0e34\u0e48\u0e48",
    "\u200b",  # zero-width space
    "\u200c\u200d",  # zero-width (non-)joiner
    "\ufeff",  # BOM / zero-width no-break space
    "\u202e",  # right-to-left override
    "\u2067\u05e9\u05dc\u05d5\u05dd\u2069",  # RTL isolate around Hebrew
    "مرحبا",
    "๑๑๐๑๗๐๐๒๓๐๗๐๘",  # Thai digits
    "١٢٣",  # Arabic-Indic digits
    "\x00",
    "\ud800",  # a lone surrogate (valid JSON escape, not valid UTF-8)
    "1101700230708",
    "0812345678",
    "1980-01-31",
    "2999-12-31",
    " ",
    "\t\n",
    "'; --",
    "<script>",
    "../../",
    "%00",
    "${jndi:x}",
    "r_",
    "v_",
    "pv1.",
    "b_",
    "rc_",
    "9" * 40,
]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join),
    st.text(max_size=3000),
)
scalars = st.one_of(
    hostile_text,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=20
)

VALID: dict[str, Any] = {
    "RegistrationRequest": body(),
    "AppRegistrationRequest": {**body(), "verification_token": "pv1.x.1.y", "admission_token": "qa1.x.1.y"},
    "ReceiptRequest": {"national_id": "1101700230708", "birth_date": "1980-01-31"},
    "VerificationRequest": {"phone": "0812345678"},
    "ConfirmRequest": {"code": "123456"},
    "LookupRequest": {"national_id": "1101700230708", "birth_date": "1980-01-31"},
    "CancelRequest": {"birth_date": "1980-01-31"},
    "BatchRequest": {"organisation": "ACME", "rows": [body()]},
    "ChannelSwitch": {"open": True},
    "CheckInRequest": {"national_id": "1101700230708"},
    "CounterCancelRequest": {"national_id": "1101700230708"},
    "JoinRequest": {"phone": "0812345678"},  # the suites run with PHONE_VERIFICATION=off
    "AdmitRate": {"admit_per_minute": 60},
}


def _swapped(v: Any) -> st.SearchStrategy[Any]:
    """Numbers as strings and strings as numbers (and the like) for one value."""
    options: list[Any] = [str(v), json.dumps(v)]
    if isinstance(v, str):
        digits = "".join(c for c in v if c.isdigit())
        options += [int(digits) if digits else 0, float(digits or 0), [v], {"value": v}]
    if isinstance(v, bool):
        options += [int(v), "yes", "1"]
    return st.sampled_from(options)


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The valid body with one field hostile, swapped, dropped, or an extra field added."""
    if not valid:
        return st.just(valid)
    keys = sorted(valid)

    def change(key: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            json_values.map(lambda v: {**valid, key: v}),
            _swapped(valid[key]).map(lambda v: {**valid, key: v}),
            st.just({k: v for k, v in valid.items() if k != key}),
            st.tuples(hostile_text, json_values).map(lambda kv: {**valid, kv[0]: kv[1]}),
        )

    return st.sampled_from(keys).flatmap(change)


def bodies(schema_name: str | None, components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any JSON value; for an operation with a body, also schema-shaped and mostly-valid ones."""
    choices: list[st.SearchStrategy[Any]] = [json_values]
    if schema_name:
        choices += [from_schema(components["schemas"][schema_name], components), mutated(VALID[schema_name])]
        if schema_name == "BatchRequest":
            choices.append(mutated(VALID["RegistrationRequest"]).map(lambda r: {"organisation": "ACME", "rows": [r]}))
    return st.one_of(*choices)


def encoded(value: Any) -> st.SearchStrategy[bytes]:
    """The body as JSON (ASCII-escaped or raw UTF-8), or as arbitrary bytes."""
    as_json = st.booleans().map(lambda ascii_only: _dumps(value, ascii_only))
    return st.one_of(as_json, as_json, as_json, st.binary(max_size=200))


def _dumps(value: Any, ascii_only: bool) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only the escaped form exists
        return json.dumps(value).encode("utf-8")


content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "text/csv",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)
path_values = st.one_of(hostile_text, st.sampled_from(["r_x", "v_x", "b_x", "rc_x", "app", "counter", "org"])).map(
    lambda s: _quoted(s) or "x"
)


def _quoted(s: str) -> str:
    return quote(s.encode("utf-8", "surrogatepass"), safe="")


query_values = hostile_text.map(_quoted)


def from_schema(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the shape a served JSON schema describes (the subset pydantic writes), with
    hostile strings wherever a string goes: what the document promises is checked, not trusted."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(components["schemas"][name], components))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of(*(from_schema(s, components) for s in schema[key]))
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, components) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components), max_size=5)
    if kind == "string":
        examples = [e for e in schema.get("examples", []) if isinstance(e, str)]
        return st.one_of(hostile_text, st.sampled_from(examples)) if examples else hostile_text
    if kind == "integer":
        return st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values
