"""The column-wise JSONL pieces give orjson's bytes exactly, or decline."""

from __future__ import annotations

import random

import orjson
import pyarrow as pa
import pytest

from batch_runner.prepare.jsonl_lines import (
    Slot,
    escape_column,
    escape_text,
    join_lines,
    layout,
    line_data,
    slot,
)

ALPHABET = 'ab "\\\n\r\t/é€😀\u2028\x7f<>&'


def random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12))) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_lines_from_escaped_columns_equal_orjson(seed: int) -> None:
    texts = random_texts(seed, 200)
    ids = [f"R{n}" for n in range(len(texts))]
    pieces = layout({"id": slot("id"), "n": slot("n"), "body": {"text": slot("text")}}, raw=("n",))
    escaped = escape_column(pa.array(texts))
    assert escaped is not None
    values = {
        "id": [pa.array(ids)],
        "n": [pa.array([str(n) for n in range(len(texts))])],
        "text": [escape_text("pre\n"), escaped],
    }
    filled = [
        part for piece in pieces for part in (values[piece.name] if isinstance(piece, Slot) else [piece])
    ]

    data, ends = line_data(join_lines(filled))

    expected = [
        orjson.dumps({"id": i, "n": n, "body": {"text": "pre\n" + t}}) + b"\n"
        for n, (i, t) in enumerate(zip(ids, texts, strict=True))
    ]
    assert bytes(data) == b"".join(expected)
    assert [bytes(data[start:end]) for start, end in zip([0, *ends], ends, strict=False)] == expected


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0c", "\x1e", "\x1f"])
def test_other_control_characters_make_it_decline(control: str) -> None:
    assert escape_column(pa.array(["ok", f"a{control}b"])) is None


def test_sliced_arrays_are_read_from_their_own_offsets() -> None:
    texts = pa.array(["skip", 'x"', "y", "skip"])[1:3]
    escaped = escape_column(texts)
    assert escaped is not None and escaped.to_pylist() == ['x\\"', "y"]
    data, ends = line_data(texts)
    assert (bytes(data), ends) == (b'x"y', [2, 3])


def test_layout_rejects_a_slot_used_twice() -> None:
    with pytest.raises(ValueError, match="more than once"):
        layout({"a": slot("t"), "b": slot("t")})
