"""One run per project at a time: an flock on `.churn.lock` plus a note of who holds it.

The lock belongs to the open file, not to a process: the guard of a pipeline run inherits it,
so it stays held until every child of a killed `churn` has stopped (see pipeline/process.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from common.errors import ChurnError

LOCK_FILE = Path(".churn.lock")


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return (f"pid {holder['pid']} on {holder['host']} running `{holder['command']}` "
                f"since {holder['started']}")
    except (OSError, ValueError, KeyError):
        return "another process"


@contextmanager
def project_lock(command: str, root: Path = Path(".")) -> Iterator[int]:
    """Hold the project's lock for `command` and yield its file descriptor; a second run says
    who holds it and stops."""
    lock_path = root / LOCK_FILE
    holder_path = lock_path.with_suffix(".holder.json")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ChurnError(f"another churn run holds the project lock ({_holder(holder_path)}); "
                         "wait for it to finish (the lock is released when it and all its "
                         "children end)") from None
    try:
        holder_path.write_text(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "started": datetime.now(UTC).replace(microsecond=0).isoformat()}))
        yield fd
    finally:
        holder_path.unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_locked(root: Path = Path(".")) -> bool:
    """True while some process (or a guard of a killed one) holds the project lock."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
