"""Output objects are listed (never guessed) and streamed; a broken download resumes exactly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ResponseStreamingError

from batch_runner.exceptions import AwsError, UsageError
from batch_runner.results.outputs import (
    JobOutputRef,
    LocalOutputSource,
    S3OutputSource,
    list_job_objects,
    read_ahead,
)
from tests.runner import results_samples as s


class _BreakingBody:
    """A body whose connection drops after ``limit`` bytes, as urllib3 reports it through botocore."""

    def __init__(self, body: Any, limit: int, at_end: bool) -> None:
        self._body = body
        self._limit = limit
        self._at_end = at_end

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        sent = 0
        for chunk in self._body.iter_chunks(7):
            if sent + len(chunk) > self._limit:
                raise ResponseStreamingError(error="Connection broken: IncompleteRead")
            sent += len(chunk)
            yield chunk
        if self._at_end:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead")


class _FlakyS3:
    def __init__(self, s3: Any, *, breaks: int, limit: int, at_end: bool = False) -> None:
        self._s3 = s3
        self._at_end = at_end
        self._breaks = breaks
        self._limit = limit
        self.get_calls: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.get_calls.append(kwargs)
        response = self._s3.get_object(**kwargs)
        if self._breaks:
            self._breaks -= 1
            response["Body"] = _BreakingBody(response["Body"], self._limit, self._at_end)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


_KEY = "runs/demo/output/job000000001/in.jsonl.out"


def _lines(count: int) -> list[bytes]:
    return [s.error_line(f"R{i:05d}", 400, f"message {i}") for i in range(count)]


@pytest.mark.parametrize("uri", [s.OUTPUT_URI, s.OUTPUT_URI.rstrip("/")])
def test_lists_records_and_manifest_under_the_job_id_prefix(s3: Any, uri: str) -> None:
    s.put_job_output(s3, "abc123def456", {"b.jsonl.out": _lines(1), "a.jsonl.out": _lines(1)}, b"{}")
    s.put_job_output(s3, "abc123def4567", {"other.jsonl.out": _lines(1)})  # a longer job ID, same start
    s3.put_object(Bucket=s.BUCKET, Key="runs/demo/output/abc123def456/notes.txt", Body=b"x")
    job = JobOutputRef(s.job_arn("abc123def456"), uri, "Completed")

    listing = list_job_objects(S3OutputSource(s3, page_size=2), job)

    assert [o.key.rsplit("/", 1)[-1] for o in listing.record_objects] == ["a.jsonl.out", "b.jsonl.out"]
    assert listing.manifest is not None and listing.manifest.key.endswith("abc123def456/manifest.json.out")


def test_a_job_with_no_output_yet_has_no_objects(s3: Any) -> None:
    listing = list_job_objects(S3OutputSource(s3), JobOutputRef(s.job_arn("zzz"), s.OUTPUT_URI))

    assert listing.record_objects == () and listing.manifest is None


def test_listing_a_missing_bucket_is_an_aws_error(s3: Any) -> None:
    job = JobOutputRef(s.job_arn("abc"), "s3://no-such-bucket-here/out/")

    with pytest.raises(AwsError, match="NoSuchBucket"):
        list_job_objects(S3OutputSource(s3), job)


def test_output_uri_must_be_an_s3_uri() -> None:
    with pytest.raises(UsageError, match="not an S3 URI"):
        JobOutputRef(s.job_arn("abc"), "https://example.com/out").output_prefix()


def test_download_broken_mid_line_resumes_from_the_last_complete_line(s3: Any) -> None:
    lines = _lines(200)
    s.put_job_output(s3, "job000000001", {"in.jsonl.out": lines})
    flaky = _FlakyS3(s3, breaks=3, limit=1000)
    sleeps: list[float] = []
    source = S3OutputSource(flaky, sleep=sleeps.append)

    got = list(source.iter_lines(s.BUCKET, _KEY))

    assert got == lines  # every line once, in order
    line_ends = set(accumulate(len(line) + 1 for line in lines))
    resumed_at = [int(call["Range"].removeprefix("bytes=").rstrip("-")) for call in flaky.get_calls[1:]]
    assert len(resumed_at) == 3 and len(sleeps) == 3
    assert resumed_at == sorted(resumed_at) and set(resumed_at) <= line_ends
    assert resumed_at[0] > 0 and all(call["IfMatch"] for call in flaky.get_calls[1:])


def test_download_that_keeps_breaking_gives_up_with_an_aws_error(s3: Any) -> None:
    s.put_job_output(s3, "job000000001", {"in.jsonl.out": _lines(50)})
    source = S3OutputSource(_FlakyS3(s3, breaks=99, limit=10), max_attempts=3, sleep=lambda _: None)

    with pytest.raises(AwsError, match=r"in\.jsonl\.out failed 3 times"):
        list(source.iter_lines(s.BUCKET, _KEY))


def test_object_replaced_during_a_resumed_download_is_an_error_not_a_mix(s3: Any) -> None:
    s.put_job_output(s3, "job000000001", {"in.jsonl.out": _lines(50)})
    source = S3OutputSource(_FlakyS3(s3, breaks=1, limit=500), sleep=lambda _: None)
    stream = source.iter_lines(s.BUCKET, _KEY)
    next(stream)
    s3.put_object(Bucket=s.BUCKET, Key=_KEY, Body=b"replaced\n")

    with pytest.raises(AwsError, match="PreconditionFailed"):
        list(stream)


def test_break_exactly_at_the_end_of_the_object_finishes_cleanly(s3: Any) -> None:
    lines = _lines(3)
    s.put_job_output(s3, "job000000001", {"in.jsonl.out": lines})
    size = sum(len(line) + 1 for line in lines)
    flaky = _FlakyS3(s3, breaks=1, limit=size, at_end=True)

    got = list(S3OutputSource(flaky, sleep=lambda _: None).iter_lines(s.BUCKET, _KEY))

    assert got == lines
    assert flaky.get_calls[1]["Range"] == f"bytes={size}-"


def test_local_source_lists_and_reads_like_s3(tmp_path: Path) -> None:
    folder = tmp_path / s.BUCKET / "runs/demo/output/job000000001"
    folder.mkdir(parents=True)
    (folder / "in.jsonl.out").write_bytes(b"a\n\nb")  # a last line without newline still counts
    (folder / "manifest.json.out").write_bytes(b"{}")
    source = LocalOutputSource(tmp_path)
    listing = list_job_objects(source, JobOutputRef(s.job_arn("job000000001"), s.OUTPUT_URI))

    assert [o.key for o in listing.record_objects] == [_KEY]
    assert list(source.iter_lines(s.BUCKET, listing.record_objects[0].key)) == [b"a", b"", b"b"]


def test_line_batches_hold_the_same_lines_as_iter_lines(tmp_path: Path, s3: Any) -> None:
    lines = _lines(6000)  # several read chunks
    folder = tmp_path / s.BUCKET / "runs/demo/output/job000000001"
    folder.mkdir(parents=True)
    (folder / "in.jsonl.out").write_bytes(b"\n".join(lines) + b"\n\nlast")
    s.put_job_output(s3, "job000000001", {"in.jsonl.out": [*lines, b"", b"last"]})

    for source in (LocalOutputSource(tmp_path), S3OutputSource(s3)):
        batches = list(source.iter_line_batches(s.BUCKET, _KEY))
        assert [line for batch in batches for line in batch] == [*lines, b"", b"last"]
        assert len(batches) > 1


def test_read_ahead_hands_out_each_object_in_order_and_raises_where_a_download_fails(tmp_path: Path) -> None:
    folder = tmp_path / s.BUCKET
    folder.mkdir()
    for name, count in (("a", 2), ("b", 0), ("c", 3)):
        (folder / name).write_bytes(b"".join(b"%s%d\n" % (name.encode(), i) for i in range(count)))
    source = LocalOutputSource(tmp_path)

    got = [
        [line for batch in batches for line in batch]
        for batches in read_ahead(source, [(s.BUCKET, k) for k in "abc"])
    ]
    assert got == [[b"a0", b"a1"], [], [b"c0", b"c1", b"c2"]]

    objects = read_ahead(source, [(s.BUCKET, "a"), (s.BUCKET, "missing"), (s.BUCKET, "c")])
    assert [line for batch in next(objects) for line in batch] == [b"a0", b"a1"]
    with pytest.raises(FileNotFoundError):
        list(next(objects))


def test_read_ahead_stops_its_thread_when_the_reader_stops_early(tmp_path: Path) -> None:
    folder = tmp_path / s.BUCKET
    folder.mkdir()
    for name in "abcdefghij":
        (folder / name).write_bytes(b"x" * 100 + b"\n")
    objects = read_ahead(LocalOutputSource(tmp_path), [(s.BUCKET, k) for k in "abcdefghij"], depth=1)
    next(next(objects))

    objects.close()

    assert not [t for t in threading.enumerate() if t.name == "results-read-ahead"]
