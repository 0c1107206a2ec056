"""Writing outputs safely: temp file + rename, so a failed run leaves the previous file intact."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it over `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); a published file gets the usual mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_with(target: str | Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_parquet(frame: pd.DataFrame, target: str | Path) -> Path:
    return write_with(target, lambda tmp: frame.to_parquet(tmp, index=False))


def write_json(data: Any, target: str | Path) -> Path:
    def _dump(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")

    return write_with(target, _dump)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_figure(fig: Any, target: str | Path, dpi: int = 110) -> Path:
    """A matplotlib figure as PNG, atomically."""
    return write_with(target, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def write_csv(frame: pd.DataFrame, target: str | Path) -> Path:
    return write_with(target, lambda tmp: frame.to_csv(tmp, index=False))
