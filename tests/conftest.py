"""Shared fixtures: small shops the project generates itself, and a throw-away project copy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pipeline.synth import ShopConfig, generate, write_shop

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_shop() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return generate(ShopConfig(customers=1500, seed=7))


@pytest.fixture(scope="session")
def small_shop_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(out, ShopConfig(customers=1500, seed=7))
    return out


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the project (code, dvc.yaml, params.yaml, DVC config) in its own git repo."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("pipeline", "features", "models"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(ROOT / name, dest / name)
    (dest / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    shutil.copy(ROOT / ".dvc" / ".gitignore", dest / ".dvc" / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest
