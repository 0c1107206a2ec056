"""Where the pipeline reads and writes: paths.yaml, the one place a path is written (dvc.yaml
loads it as vars; stages and the CLI read it here)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from common.errors import ChurnError

PATHS_FILE = Path("paths.yaml")
#: outside a project (e.g. `churn ingest` in any folder), the layout of the installed project
INSTALLED = Path(__file__).resolve().parents[1] / "paths.yaml"


@dataclass(frozen=True)
class Paths:
    canonical: Path
    history: Path
    features: Path
    products: Path
    policy: Path
    batch: Path
    model: Path
    champion: Path
    exports: Path
    results: Path
    reports: Path
    plots: Path
    ingest_report: Path
    features_report: Path
    products_report: Path
    matrix_plot: Path
    train_report: Path
    metrics: Path
    policy_metrics: Path
    campaign_metrics: Path
    curves: Path
    evaluation: Path
    policy_report: Path
    qini_plot: Path
    score_report: Path
    publish_report: Path
    campaigns_report: Path
    uplift_plot: Path
    backtest: Path
    reasons: Path
    drift: Path
    report: Path


def load_paths(path: Path = PATHS_FILE, **overrides: str | Path) -> Paths:
    """The project's paths, with `overrides` (a stage's command line) taking precedence."""
    if not path.exists() and path == PATHS_FILE and INSTALLED.exists():
        path = INSTALLED
    if not path.exists():
        raise ChurnError(f"{path}: not found; run churn from the project root")
    raw = (yaml.safe_load(path.read_text()) or {}).get("paths") or {}
    names = {f.name for f in fields(Paths)}
    missing = sorted(names - set(raw))
    if missing:
        raise ChurnError(f"{path}: paths {missing} are missing")
    merged = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    return Paths(**{name: Path(merged[name]) for name in names})
