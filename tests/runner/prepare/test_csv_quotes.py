"""The quote checker that decides when a CSV file needs the strict scan: never for a clean file,
always for one whose quotes pyarrow would read as different text, wherever the read blocks end."""

from __future__ import annotations

import csv
import io

import pytest

from batch_runner.prepare.datasets.csv_quotes import QuoteChecker


def suspect(data: bytes, block: int, check_bytes: int | None = None) -> bool:
    checker = QuoteChecker(check_bytes or block)
    for start in range(0, len(data), block):
        checker.feed(data[start : start + block])
    checker.feed(b"")
    checker.finish()
    return checker.suspect


def written_by_csv(rows: list[list[str]], *, lineterminator: str = "\r\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=lineterminator).writerows(rows)
    return out.getvalue().encode()


CLEAN = [
    written_by_csv([["id", "text"], ["1", 'she said "stop" and left'], ["2", "a, b\nc"], ["3", ""]]),
    written_by_csv([["a", "b"], ['"', '""'], ['"x"', "y"]], lineterminator="\n"),
    '\ufeff"id","text"\n"1","naïve ""quotes"""\n'.encode(),  # Excel: BOM and every value quoted
    b"a,b\n1,2\n",  # no quote at all
    b'a,b\n"",""\n,\n',  # empty quoted values
]
MALFORMED = [
    b'a,b,c\nb1,"she said "stop" and left",x\n',
    b'a,b\n"a,"b",c\n',  # a quote after a comma inside a quoted value
    b'a,b\n"abc"def,x\n',  # text after the closing quote
    b'a,b\n"abc" ,x\n',
    b'a,b\n1,"open\n',  # never closed
    b"a,b\n1,x\x00y\n",
]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 16])
@pytest.mark.parametrize("data", CLEAN)
def test_clean_files_never_need_the_strict_scan(data: bytes, block: int) -> None:
    assert not suspect(data, block)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 16])
@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_quotes_and_nul_bytes_always_do(data: bytes, block: int) -> None:
    assert suspect(data, block)


@pytest.mark.parametrize("check_bytes", [5, 1 << 12, 1 << 20])
def test_many_quotes_checked_together_wherever_the_checks_end(check_bytes: int) -> None:
    rows = [[str(n), f'say "{n}"', 'a,b\n"c"' * (n % 3)] for n in range(20_000)]
    clean = written_by_csv(rows)
    assert clean.count(b'"') > 100_000
    assert not suspect(clean, 1000, check_bytes)
    for malformed in MALFORMED:
        assert suspect(clean + malformed.partition(b"\n")[2], 1000, check_bytes)


def test_bare_quotes_in_unquoted_values_call_for_the_scan_which_accepts_them() -> None:
    assert suspect(b'size,label\n5" screen,x\n', 4)  # csv_file.find_csv_problem then finds nothing
