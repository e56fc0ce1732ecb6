"""Progress of a replica build, as reported to a progress bar: (stage, done, total)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ProgressTracker:
    """Bytes read so far, reported at most once per MiB, and the stages after the reading."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self._reported = 0

    def add(self, n: int) -> None:
        self.done += n
        if self.progress is not None and self.done - self._reported >= (1 << 20):
            self._reported = self.done
            self.progress("Reading the release", min(self.done, self.total), self.total)

    def stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name, self.total, self.total)
