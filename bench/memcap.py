"""A real memory limit for one measured process: a memory cgroup (v2, else v1) that the child
joins before it execs, so that "opens on a 4 GB machine" is tested, not estimated.

Needs root (or a delegated cgroup). The limit counts what a small machine would: the process's
heap and the page cache of the files it writes and reads (the arena file), which the kernel
reclaims under the limit; when the heap alone passes it, the kernel's OOM killer ends the process
(`oom_kills` then says so).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def parse_size(text: str) -> int:
    """`4G`, `512M`, `1024K` or bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class MemoryCap:
    """One memory cgroup limited to `limit` bytes (see the module docstring)."""

    def __init__(self, path: Path, version: int, limit: int) -> None:
        self.path = path
        self.version = version
        self.limit = limit

    @classmethod
    def create(cls, limit: int, name: str) -> MemoryCap:
        """A new cgroup `name` limited to `limit` bytes; raises OSError with the reason if this
        machine does not allow it."""
        controllers = ROOT / "cgroup.controllers"
        if controllers.exists() and "memory" in controllers.read_text().split():
            path = ROOT / name
            path.mkdir(exist_ok=True)
            (path / "memory.max").write_text(str(limit))
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")
            return cls(path, 2, limit)
        v1 = ROOT / "memory"
        if (v1 / "memory.limit_in_bytes").exists():
            path = v1 / name
            path.mkdir(exist_ok=True)
            (path / "memory.limit_in_bytes").write_text(str(limit))
            return cls(path, 1, limit)
        raise OSError("no writable memory cgroup (v2 with the memory controller, or v1) under /sys/fs/cgroup")

    def enter(self) -> None:
        """Move the calling process into the cgroup (a `preexec_fn`: the child, before exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int:
        """Peak bytes charged to the cgroup (heap and page cache), or -1 if the kernel does not say."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return -1

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this cgroup."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def describe(self) -> str:
        return f"cgroup v{self.version} {self.path} (limit {self.limit / (1 << 30):.1f} GiB)"

    def close(self) -> None:
        """Remove the cgroup (its processes have exited)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()
