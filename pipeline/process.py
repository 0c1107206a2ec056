"""Children that die with `churn`: the pipeline runs in a process group of its own, watched by
a guard that holds the project lock.

- SIGTERM or Ctrl-C to churn: churn stops the whole group, waits for it, prints one line.
- SIGKILL of churn (the OOM killer, `kill -9`): the guard notices its parent is gone, stops the
  group (SIGTERM, then SIGKILL after a grace period) and only then exits, so the lock it
  inherited is not free while any child still writes.

Run as `python -m pipeline.process PARENT_PID GROUP_ID` it is that guard.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 10.0


class Interrupted(Exception):
    """churn was asked to stop (SIGINT or SIGTERM); the group has been stopped."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, SIGKILL what is left after `grace` seconds, wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.1)


def _relay(stream, tail: deque, shown: Callable[[str], bool]) -> None:
    """Copy a child's output to our stderr line by line (the lines `shown` keeps), keeping
    the last lines in `tail`."""
    for line in iter(stream.readline, ""):
        if shown(line):
            sys.stderr.write(line)
            sys.stderr.flush()
        tail.append(line.rstrip("\n"))
    stream.close()


def run_in_group(cmd: Sequence[str], env: dict[str, str], lock_fd: int | None,
                 tail: deque | None = None,
                 shown: Callable[[str], bool] = lambda line: True) -> int:
    """Run `cmd` as the leader of a new process group, guarded; return its exit code. Its
    output goes to our stderr (the lines `shown` keeps), the last lines into `tail`. Raises
    Interrupted after stopping the group when churn gets SIGINT or SIGTERM."""
    proc = subprocess.Popen(list(cmd), env=env, start_new_session=True,
                            preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    relay = threading.Thread(target=_relay, args=(proc.stdout, tail if tail is not None
                                                  else deque(maxlen=40), shown), daemon=True)
    relay.start()
    guard = subprocess.Popen(
        [sys.executable, "-m", "pipeline.process", str(os.getpid()), str(proc.pid)],
        pass_fds=() if lock_fd is None else (lock_fd,), start_new_session=True,
        stdin=subprocess.DEVNULL)
    received: list[int] = []

    def on_signal(signum, _frame):
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while proc.poll() is None and not received:
            time.sleep(0.1)
        if received:
            stop_group(proc.pid)
            proc.wait()
            raise Interrupted(received[0])
        # the leader is done; its children (if any) stop with it
        if group_alive(proc.pid):
            stop_group(proc.pid, grace=2.0)
        relay.join(timeout=5)
        return proc.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        guard.terminate()
        guard.wait()


def guard(parent: int, pgid: int) -> None:
    """Wait for the group to finish; if the parent dies first, stop the group."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # churn ended normally
    _die_with_parent_kill = os.getppid() != parent  # parent already gone: act at once
    while group_alive(pgid):
        if _die_with_parent_kill or not _alive(parent):
            stop_group(pgid)
            return
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie parent is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    guard(int(sys.argv[1]), int(sys.argv[2]))
