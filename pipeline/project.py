"""A fresh copy of the project (code, DAG, params, paths, DVC config) in a git repo of its own:
to run the pipeline on another shop, a backtest or a benchmark without touching this one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "features", "models", "common", "synthetic", "demo")
FILES = ("dvc.yaml", "params.yaml", "paths.yaml", ".gitignore", ".dvcignore")


def copy_project(dest: Path, root: Path = ROOT) -> Path:
    dest.mkdir(parents=True)
    for name in PACKAGES:
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in FILES:
        if (root / name).exists():
            shutil.copy(root / name, dest / name)
    shutil.copytree(root / ".dvc", dest / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest
