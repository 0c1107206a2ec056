"""The settings one run uses, fixed once by ingest and read by every later stage.

`churn run --data/--as-of/--horizon-days` never edits params.yaml: the CLI hands the overrides
to its own `dvc repro` in an environment variable, ingest (which DVC always re-runs) merges
them with params.yaml, resolves as_of against the data and writes the result to
`data/canonical/run.json`. Later stages depend on that file, so DVC re-runs exactly what an
override changes, and a killed run leaves no configuration behind: the next plain
`dvc repro` ingests with params.yaml alone and re-runs what differs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common.errors import ChurnError
from common.params import Params, parse

OVERRIDES_ENV = "CHURN_OVERRIDES"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    input: str
    as_of: date
    horizon_days: int
    first_order: date
    last_order: date


def overrides_from_env() -> dict[str, Any]:
    """{dotted key: value} passed by the churn CLI for this run only."""
    raw = os.environ.get(OVERRIDES_ENV)
    if not raw:
        return {}
    try:
        return dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ChurnError(f"{OVERRIDES_ENV} is not a JSON object: {exc}") from None


def with_overrides(params: Params, overrides: dict[str, Any]) -> Params:
    """params with `data.input`, `as_of`, `churn.horizon_days` replaced, validated by the same
    rules as params.yaml."""
    allowed = {"data.input", "as_of", "churn.horizon_days"}
    unknown = set(overrides) - allowed
    if unknown:
        raise ChurnError(f"cannot override {sorted(unknown)} for one run; allowed: "
                         f"{sorted(allowed)}")
    checked = parse({"as_of": overrides.get("as_of"),
                     "churn": {"horizon_days": overrides.get("churn.horizon_days", 1)},
                     "data": {"input": overrides.get("data.input", "")}})
    out = params
    if "data.input" in overrides:
        out = out.model_copy(update={"data": out.data.model_copy(
            update={"input": checked.data.input})})
    if "as_of" in overrides:
        out = out.model_copy(update={"as_of": checked.as_of})
    if "churn.horizon_days" in overrides:
        out = out.model_copy(update={"churn": out.churn.model_copy(
            update={"horizon_days": checked.churn.horizon_days})})
    return out


def resolve(params: Params, first_order: date, last_order: date) -> RunInfo:
    """as_of defaults to the last order date in the data; it may not precede the first."""
    as_of = params.as_of or last_order
    if as_of < first_order:
        raise ChurnError(f"as_of {as_of} is before the first order ({first_order})")
    return RunInfo(params.data.input, as_of, params.churn.horizon_days, first_order, last_order)


def write_run_info(info: RunInfo, canonical: Path) -> Path:
    path = canonical / RUN_FILE
    tmp = path.with_name(f".{RUN_FILE}.tmp")
    tmp.write_text(json.dumps(asdict(info), default=str, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_run_info(canonical: Path) -> RunInfo:
    path = Path(canonical) / RUN_FILE
    if not path.exists():
        raise ChurnError(f"{path}: not found; run the ingest stage first (churn run)")
    raw = json.loads(path.read_text())
    return RunInfo(raw["input"], date.fromisoformat(raw["as_of"]), int(raw["horizon_days"]),
                   date.fromisoformat(raw["first_order"]), date.fromisoformat(raw["last_order"]))
