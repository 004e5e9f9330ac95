"""A run as the scheduler holds it: the S3 manifest, written back once per pass, conditionally.

The cloud is the single writer of an orchestrated run's manifest. ``save()`` (called by the jobs/
operations after every step) only marks the manifest changed; ``flush()`` writes it once at the
end of a pass with ``If-Match`` on the ETag it was read with, so a pass never overwrites a write
it did not see, and a pass that creates many jobs uploads the manifest once, not once per job. A
crash before ``flush`` loses nothing that matters: the jobs exist under deterministic names and
client tokens, and the next pass adopts them. The scheduler's writes are gzipped (about a sixth of
the JSON); every reader of the manifest takes either form.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from batch_runner.aws.clients import AwsContext
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_state import read_remote_tagged, utc_now, write_remote


def scratch_dir() -> Path:
    """Where a function keeps runs' working files (record indexes, local results): Lambda's /tmp."""
    return Path(tempfile.gettempdir()) / "batch-runner"


@dataclass
class CloudRun(RunContext):
    writes_orchestrated_runs: ClassVar[bool] = True
    etag: str = ""
    changed: bool = False

    @classmethod
    def load(cls, clients: dict[str, Any], bucket: str, run: str, workdir: Path) -> Self | None:
        """The run's manifest from ``bucket``, with ``clients`` (by service name) for its calls."""
        found = read_remote_tagged(clients["s3"], bucket, run)
        if found is None:
            return None
        manifest, etag = found
        loaded = cls(manifest, workdir, AwsContext(region=manifest.settings.get("region")), etag=etag)
        loaded._clients.update(clients)
        loaded.directory.mkdir(parents=True, exist_ok=True)  # retries and result joins work there
        return loaded

    def save(self) -> None:
        self.manifest.updated_at = utc_now()
        self.changed = True

    def new_client(self, service: str) -> None:
        # The handler's clients (and their endpoint) are handed in; a function of one vCPU or
        # less gains nothing from worker processes anyway.
        return None

    def flush(self) -> bool:
        """Write the manifest if it changed; True when written. ``StaleManifestError`` when
        someone else wrote it since it was read."""
        if not self.changed:
            return False
        bucket = str(self.manifest.settings["input_bucket"])
        self.etag = write_remote(self.manifest, self.client("s3"), bucket, if_match=self.etag, compress=True)
        self.changed = False
        return True
