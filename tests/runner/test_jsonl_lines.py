"""The column-wise JSONL encoder gives orjson's bytes exactly, or declines."""

from __future__ import annotations

import random

import orjson
import pyarrow as pa
import pytest

from batch_runner.jsonl_lines import Slot, encode_lines, layout, slot

ALPHABET = 'ab "\\\n\r\t/é€😀\u2028\x7f<>&'


def random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12))) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_random_text_encodes_like_orjson(seed: int) -> None:
    texts = random_texts(seed, 200)
    pieces = layout({"id": slot("id"), "n": slot("n"), "body": {"text": slot("text")}}, raw=("n",))
    ids = [f"R{n}" for n in range(len(texts))]
    values = {
        "id": [pa.array(ids)],
        "n": [pa.array([str(n) for n in range(len(texts))])],
        "text": ["pre\n", pa.array(texts)],
    }
    filled = [
        part for piece in pieces for part in (values[piece.name] if isinstance(piece, Slot) else [piece])
    ]

    expected = b"".join(
        orjson.dumps({"id": i, "n": n, "body": {"text": "pre\n" + t}}) + b"\n"
        for n, (i, t) in enumerate(zip(ids, texts, strict=True))
    )
    assert encode_lines(filled, len(texts)) == expected


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0c", "\x1f"])
def test_other_control_characters_make_it_decline(control: str) -> None:
    assert encode_lines([b'{"t":"', pa.array(["ok", f"a{control}b"]), b'"}\n'], 2) is None


def test_sliced_arrays_are_encoded_from_their_own_offsets() -> None:
    texts = pa.array(["skip", "x", "y", "skip"])[1:3]
    assert encode_lines([b'"', texts, b'"\n'], 2) == b'"x"\n"y"\n'


def test_layout_rejects_a_slot_used_twice() -> None:
    with pytest.raises(ValueError, match="more than once"):
        layout({"a": slot("t"), "b": slot("t")})
