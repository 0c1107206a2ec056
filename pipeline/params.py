"""params.yaml is the one place for knobs: read it, and override keys for a single run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ChurnError

PARAMS_FILE = Path("params.yaml")


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ChurnError(f"{path}: parameters file not found (run from the project root)")
    with path.open() as fh:
        return yaml.safe_load(fh) or {}


def get(params: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """Read `a.b.c` from nested params, `default` when any level is missing."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


@contextmanager
def overridden(path: str | Path, overrides: Mapping[str, Any]) -> Iterator[None]:
    """Set dotted keys in params.yaml for the duration of one run, then restore the file.

    Uses ruamel's round-trip mode (DVC's own YAML library) so comments and layout survive.
    DVC records the overridden values in dvc.lock, so the next plain `dvc repro` re-runs what
    the overrides changed: the override applies to this run only.
    """
    from ruamel.yaml import YAML

    path = Path(path)
    original = path.read_text()
    if not overrides:
        yield
        return
    rt = YAML()
    doc = rt.load(original)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    with path.open("w") as fh:
        rt.dump(doc, fh)
    try:
        yield
    finally:
        path.write_text(original)
