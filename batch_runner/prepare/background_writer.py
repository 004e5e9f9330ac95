"""File writes and SHA-256 on a background thread, overlapping disk and hashing with encoding.

Both release the GIL for large buffers, so on two cores planning runs about as fast as the slower
of encoding and writing instead of their sum. The queue is bounded, which bounds memory.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO, TypeAlias

Data: TypeAlias = bytes | memoryview

_QUEUE_DEPTH = 4  # buffers in flight; each is one encoded chunk (a few MB)
_STOP = None


class BackgroundWriter:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[BinaryIO, hashlib._Hash, Data | None] | None] = queue.Queue(
            _QUEUE_DEPTH
        )
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="plan-writer", daemon=True)
        self._thread.start()

    def write(self, handle: BinaryIO, digest: hashlib._Hash, data: Data) -> None:
        self._raise_if_failed()
        self._queue.put((handle, digest, data))

    def close(self, handle: BinaryIO, digest: hashlib._Hash) -> None:
        """Closes ``handle`` after everything queued for it is written."""
        self._raise_if_failed()
        self._queue.put((handle, digest, None))

    def drain(self) -> None:
        """Waits until every queued write is on disk (or has failed)."""
        self._queue.join()
        self._raise_if_failed()

    def stop(self) -> None:
        """Ends the thread after the queued work; errors are reported by ``write``/``drain`` only."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                handle, digest, data = item
                if data is None:
                    handle.close()
                elif self._error is None:
                    handle.write(data)
                    digest.update(data)
            except BaseException as err:  # surfaced to the planning thread on its next call
                self._error = err
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
