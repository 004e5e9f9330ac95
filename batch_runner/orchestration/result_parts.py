"""A large Parquet collection as a dataset of parts: ``part-00000.parquet`` and on, in row order.

The collection is written once to local disk by the usual results path, then cut into parts of
``part_rows`` rows, a record batch at a time (memory stays bounded by one batch), each part uploaded
as it is finished. Every part has the full schema, so any reader takes the folder as one table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

READ_BATCH_ROWS = 64_000


def part_key(prefix: str, number: int) -> str:
    return f"{prefix}part-{number:05d}.parquet"


def write_parts(s3: Any, local: Path, bucket: str, prefix: str, part_rows: int) -> int:
    """Upload ``local`` as parts of ``part_rows`` rows under ``prefix``; returns the number of parts."""
    source = pq.ParquetFile(local)
    staging = local.with_name(f".{local.stem}-part.parquet")
    parts, rows, writer = 0, 0, None
    try:
        for batch in source.iter_batches(batch_size=min(READ_BATCH_ROWS, part_rows)):
            offset = 0
            while offset < batch.num_rows:
                if writer is None:
                    writer = pq.ParquetWriter(staging, source.schema_arrow)
                piece = batch.slice(offset, part_rows - rows)
                writer.write_batch(piece)
                offset, rows = offset + piece.num_rows, rows + piece.num_rows
                if rows == part_rows:
                    writer.close()
                    writer, rows = None, 0
                    s3.upload_file(str(staging), bucket, part_key(prefix, parts))
                    parts += 1
        if writer is not None or parts == 0:  # the last, shorter part (or an empty run's one part)
            if writer is None:
                writer = pq.ParquetWriter(staging, source.schema_arrow)
            writer.close()
            writer = None
            s3.upload_file(str(staging), bucket, part_key(prefix, parts))
            parts += 1
    finally:
        if writer is not None:
            writer.close()
        staging.unlink(missing_ok=True)
    return parts
