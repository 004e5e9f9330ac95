"""CSV, read with pyarrow's streaming reader: every column as text, quoted newlines allowed.

pyarrow is fast but its errors do not say where the problem is, so when it fails the file is
scanned again with the standard library to name the line (and byte, for bad UTF-8). pyarrow also
accepts, without a word, what would change the text: a quote left open at the end of the file (the
rest of the file becomes one value), a quote inside a quoted value that is not doubled, text after a
closing quote, NUL bytes. ``csv_quotes.QuoteChecker`` sees the bytes pyarrow reads (``csv_input``)
and calls for the same scan, which refuses such a file with the line (Python's csv module in strict
mode), so nothing is uploaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.chunk import Chunk, check_unique_columns
from batch_runner.prepare.datasets.csv_input import open_input
from batch_runner.prepare.datasets.sources import ByteSource, as_source, plain_file

BLOCK_BYTES = 256 << 10  # CSV bytes per batch; pyarrow reads ~35 blocks ahead, so this bounds memory
# A memory-mapped file (``csv_input``) is read ahead as slices of the map, not copies, so its blocks
# can be larger: fewer batches, each with the same fixed cost (about 15% less CPU than 256 KB).
MAPPED_BLOCK_BYTES = 1 << 20


MAX_BLOCK_BYTES = 1 << 30  # a row this long cannot fit in a batch input file anyway


class BlocksTooSmall(Exception):
    """A CSV row is longer than the read block; ``dataset`` reads with blocks large enough to retry.

    pyarrow needs each row inside one block. Blocks are small to keep memory low, so a dataset
    with very long rows is read again from the start with larger blocks (and more memory).
    """

    def __init__(self, dataset: CsvDataset) -> None:
        super().__init__(f"retry with {dataset.block_bytes:,}-byte blocks")
        self.dataset = dataset


class CsvDataset:
    def __init__(self, path: Path | ByteSource, block_bytes: int | None = None) -> None:
        self.source = as_source(path)
        self.label = self.source.label
        self.block_bytes = block_bytes or (MAPPED_BLOCK_BYTES if plain_file(self.source) else BLOCK_BYTES)

    def chunks(self) -> Iterator[Chunk]:
        columns = self._header()
        source = open_input(self.source, self.block_bytes)
        try:
            reader = pa_csv.open_csv(
                source.stream,
                read_options=pa_csv.ReadOptions(block_size=self.block_bytes, use_threads=source.read_ahead),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in columns}, strings_can_be_null=False
                ),
            )
            first_row = 0
            for batch in reader:
                if batch.num_rows:
                    yield Chunk(first_row, batch=batch)
                    first_row += batch.num_rows
                source.after_batch()
            suspect = source.finish()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            if "straddl" in str(err) and self.block_bytes < MAX_BLOCK_BYTES:
                raise BlocksTooSmall(CsvDataset(self.source, self.block_bytes * 8)) from err
            raise self._explain(err) from err
        finally:
            source.close()
        if suspect:
            problem = find_csv_problem(self.source)  # None for bare quotes inside unquoted values
            if problem is not None:
                raise DatasetError(f"{self.label} {problem}; fix the file or export it again as UTF-8 CSV")

    def _header(self) -> list[str]:
        try:
            with io.TextIOWrapper(self.source.open(), encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError as err:
            raise self._explain(err) from err
        except csv.Error as err:
            raise DatasetError(f"{self.label} line 1: malformed CSV header ({err}); fix the file") from err
        if not header:
            raise DatasetError(f"{self.label} is empty: it has no header row and no data rows; add rows")
        check_unique_columns(f"{self.label} header", header)
        return header

    def _explain(self, err: Exception) -> DatasetError:
        problem = find_csv_problem(self.source)
        if problem is None:
            problem = f"cannot be read as CSV ({str(err).splitlines()[0]})"
        return DatasetError(f"{self.label} {problem}; fix the file or export it again as UTF-8 CSV")


def find_csv_problem(path: Path | ByteSource) -> str | None:
    """The first problem in a CSV file, located by line (and byte for bad UTF-8), or None."""
    source = as_source(path)
    with source.open() as raw:
        for line_number, line in enumerate(raw, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = line[err.start : err.start + 1]
                return f"line {line_number}, byte {err.start + 1}: invalid UTF-8 ({bad!r})"
            nul = line.find(b"\x00")
            if nul >= 0:
                # Python's csv module would read it; no text holds one, and a UTF-16 file is full of them.
                return f"line {line_number}, byte {nul + 1}: a NUL byte (is the file UTF-16?)"
    limit = csv.field_size_limit(2**31 - 1)  # pyarrow has no per-field limit; do not invent one here
    try:
        with io.TextIOWrapper(source.open(), encoding="utf-8-sig", newline="") as handle:
            return _find_structure_problem(csv.reader(handle, strict=True))
    finally:
        csv.field_size_limit(limit)


def _find_structure_problem(reader: Any) -> str | None:  # a csv.reader (its type is private)
    header: list[str] | None = None
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return None
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                return f"line {first_line}: a quoted value starts in this record and is never closed"
            if "expected after" in str(err):
                # Read on, it would lose the quote and take what follows into the value.
                return (
                    f"line {reader.line_num}: a quote inside a quoted value must be doubled "
                    f'(write "" for each "), and a closing quote must be followed by a comma or line end'
                )
            return f"line {reader.line_num}: malformed CSV ({err})"
        if header is None:
            header = row
        elif row and len(row) != len(header):
            fields = f"{len(row)} fields, the header has {len(header)}"
            return f"line {reader.line_num}: malformed CSV row with {fields}"
