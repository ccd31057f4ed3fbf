"""Files dlq-tui writes (journal, lock, log) are the engineer's alone: 0600 in 0700 directories
(issue 13.3) — a journal names topics and offsets, a log may name hosts and users."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700; tighten `path` itself to 0700 if it exists and is
    ours. Parents that exist already are left alone (they may be shared, like ~/.local/state)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=DIR_MODE)
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if missing, 0600, in a 0700 directory; an existing file of ours is
    tightened to 0600 (an earlier version created the log 0644)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


_SECRET_WORDS = ("password", "sasl.jaas.config", "basic.auth.user.info", "secret")


def exposed_secret(path: Path) -> bool:
    """Whether `path` is readable by other users (group or world) and holds something that looks
    like a credential (a password, a JAAS config, basic-auth user info)."""
    try:
        if not path.stat().st_mode & 0o044:
            return False
        text = path.read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return False
    return any(word in text for word in _SECRET_WORDS)
