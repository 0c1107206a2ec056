"""One run per project at a time: a file lock plus a note of who holds it."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.errors import ChurnError

LOCK_FILE = Path(".churn.lock")


@contextmanager
def project_lock(command: str, root: Path = Path(".")) -> Iterator[None]:
    """Hold the project's lock for `command`; a second run says who holds it and stops."""
    lock_path = root / LOCK_FILE
    holder_path = lock_path.with_suffix(".holder.json")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = json.loads(holder_path.read_text())
            who = (f"pid {holder['pid']} on {holder['host']} running `{holder['command']}` "
                   f"since {holder['started']}")
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise ChurnError(f"another churn run holds the project lock ({who}); wait for it to "
                         "finish (the lock is released when that process ends)") from None
    try:
        holder_path.write_text(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "started": datetime.now(UTC).replace(microsecond=0).isoformat()}))
        yield
    finally:
        holder_path.unlink(missing_ok=True)
        lock.release()
