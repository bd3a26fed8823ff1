"""How far a verbose pg_restore is: the archive entries it has finished, read from its stderr."""

from __future__ import annotations


class RestoreEntries:
    """Count the archive entries a verbose pg_restore has finished, from its stderr lines.

    Entries run one after the other before the parallel loop and after it (the ACL and comment
    passes), each finished when the next starts; inside the loop (--jobs > 1) a worker says when
    each one is finished. A single job never enters the loop: every entry runs in order.
    """

    STARTS = (
        "pg_restore: creating ",
        "pg_restore: processing data for table ",
        "pg_restore: executing ",
        "pg_restore: processing BLOBS",
    )

    def __init__(self, total: int) -> None:
        self.total = total
        self._before = 0  # entries started before the parallel loop (all of them, with one job)
        self._finished = 0  # entries a worker finished inside the loop
        self._after = 0  # entries started after the loop
        self._phase = "before"
        self._done = False

    def feed(self, line: str) -> None:
        """Read one stderr line.

        Workers write their prefix and their message separately, so two of them can interleave
        ("pg_restore:pg_restore:  finished item …"): a worker's message is found anywhere in a
        line, not only at its start.
        """
        if "entering main parallel loop" in line:
            self._phase = "loop"
        elif "finished main parallel loop" in line:
            self._phase = "after"
        elif "finished item " in line:
            self._finished += line.count("finished item ")
        elif line.startswith(self.STARTS):
            if self._phase == "before":
                self._before += 1
            elif self._phase == "after":
                self._after += 1

    def finish(self) -> None:
        """Say pg_restore exited 0: every entry is done."""
        self._done = True

    @property
    def done(self) -> int:
        """Return how many entries are finished (never more than the total)."""
        if self._done:
            return self.total
        if self._phase == "before":  # the entry started last may still run
            return min(max(self._before - 1, 0), self.total)
        after = max(self._after - 1, 0)
        return min(self._before + self._finished + after, self.total)
