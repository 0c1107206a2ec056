"""The project lock: one run at a time, the holder named, released when the holder ends."""

from __future__ import annotations

import os

import pytest

from common.errors import ChurnError
from pipeline.lock import is_locked, project_lock


def test_the_lock_lets_one_run_in_and_names_the_holder(tmp_path):
    with project_lock("churn run", tmp_path):
        with pytest.raises(ChurnError) as err:
            with project_lock("churn retrain", tmp_path):
                pass
        assert f"pid {os.getpid()}" in str(err.value) and "`churn run`" in str(err.value)
    with project_lock("churn retrain", tmp_path):  # released: the next run gets it
        pass


def test_the_lock_is_held_while_an_inherited_descriptor_lives(tmp_path):
    """A guard process that inherits the descriptor keeps the lock after its parent ends."""
    import subprocess
    import sys

    with project_lock("churn run", tmp_path) as fd:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                 pass_fds=(fd,))
        os.close(os.dup(fd))
    # the parent released its flock explicitly on exit: a clean end frees the lock for all
    assert not is_locked(tmp_path)
    child.kill()
    child.wait()
