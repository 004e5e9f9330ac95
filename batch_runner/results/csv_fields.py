"""CSV fields, encoded exactly as the stdlib ``csv.writer``'s default dialect does (QUOTE_MINIMAL).

``csv_property_fields`` encodes an output schema's property columns straight from the parsed
answer. With an output schema each row gets a column per top-level property. Encoding them one call per
field (a lookup, a dispatch on the column's kind, ``orjson.dumps`` for a boolean) cost as much as
parsing the answer, so ``csv_property_fields`` generates one Python function per schema that
encodes every property inline, by the column's kind, with the common value types first: a list
or object is dumped once and quoted, a boolean is a literal, text is quoted by ``in`` scans.
Every other value takes the general encoders, so the fields are exactly what ``csv_field`` and
``csv_json_field`` give (tested against ``csv.writer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

# Kinds whose non-text values CSV holds as JSON text (a boolean as true/false, like JSON).
JSONISH_KINDS = frozenset({"vector", "json", "bool"})

PropertyFields = Callable[[Any, str], str]


def csv_text(value: str) -> str:
    """A text field, quoted when it holds a quote, comma or line break (QUOTE_MINIMAL).
    ``in`` scans are several times faster than a regex search over a long answer."""
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def csv_bytes(value: bytes) -> bytes:
    """``csv_text`` for text already encoded as UTF-8 (the same quoting, byte for byte)."""
    if b'"' in value:
        return b'"' + value.replace(b'"', b'""') + b'"'
    if b"," in value or b"\n" in value or b"\r" in value:
        return b'"' + value + b'"'
    return value


def csv_field(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return csv_text(value)
    return str(value)


def csv_json_field(value: Any) -> str:
    """A field of a ``JSONISH_KINDS`` column: text as it is, anything else as JSON text."""
    if value is None:
        return ""
    if type(value) is str:
        return csv_text(value)
    return csv_text(orjson.dumps(value).decode())


def csv_encoder(kind: str) -> Callable[[Any], str]:
    return csv_json_field if kind in JSONISH_KINDS else csv_field


def csv_property_fields(
    properties: Sequence[str],
    kinds: Sequence[str],
    record: type | None = None,
    attributes: Sequence[str] = (),
) -> PropertyFields:
    """A function of a parsed answer and the fields before them giving those fields, then the
    answer's property fields, joined by commas (a value that is not an object gives every property
    field empty). One string is built: the row's text is long. The answer is a dict, or an
    instance of ``record`` whose ``attributes`` hold the properties in order (``typed_answers``)."""
    if len(properties) != len(kinds):
        raise ValueError("one kind per property")
    if not properties:
        return _no_fields
    joined = ",".join(["{head}", *(f"{{f{number}}}" for number in range(len(properties)))])
    result = f'return f"{joined}"'
    lines = ["def fields(p, head):"]
    if record is not None:
        lines.append("    if type(p) is Record:")
        lines += _indent([*_encoded([f"v = p.{attribute}" for attribute in attributes], kinds), result], 2)
    lines += [
        "    if type(p) is not dict:",
        f"        return head + {',' * len(properties)!r}",
        "    get = p.get",
    ]
    # The property names' reprs are string literals.
    lines += _indent([*_encoded([f"v = get({name!r})" for name in properties], kinds), result])
    namespace: dict[str, Any] = {
        "dumps": orjson.dumps,
        "csv_field": csv_field,
        "csv_json_field": csv_json_field,
        "Record": record,
    }
    # The source is generated above.
    exec(compile("\n".join(lines), "<output schema CSV fields>", "exec"), namespace)
    encode: PropertyFields = namespace["fields"]
    return encode


def _encoded(reads: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """Statements that read each property (``reads``) into ``v`` and encode it into ``f<n>``."""
    lines = []
    for number, (read, kind) in enumerate(zip(reads, kinds, strict=True)):
        source = _JSONISH if kind in JSONISH_KINDS else _TEXT
        lines += [read, *source.format(field=f"f{number}").strip("\n").splitlines()]
    return lines


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def _no_fields(parsed: Any, head: str) -> str:
    return head


# A column whose non-text values CSV holds as JSON text. Compact JSON has no line breaks, so it
# is quoted exactly when it holds a quote or a comma.
_JSONISH = """
if type(v) is list or type(v) is dict:
    t = dumps(v).decode()
    {field} = '"' + t.replace('"', '""') + '"' if '"' in t or "," in t else t
elif v is True:
    {field} = "true"
elif v is False:
    {field} = "false"
else:
    {field} = csv_json_field(v)
"""

# A text, integer or number column (the same quoting as ``csv_text``).
_TEXT = """
if type(v) is str:
    if '"' in v:
        {field} = '"' + v.replace('"', '""') + '"'
    elif "," in v or "\\n" in v or "\\r" in v:
        {field} = '"' + v + '"'
    else:
        {field} = v
else:
    {field} = csv_field(v)
"""
