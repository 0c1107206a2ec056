"""The one params model: a frozen, typed dataclass per params.yaml section.

The defaults live here and only here; a test checks that params.yaml spells out exactly these
values. `parse` builds the whole tree from a YAML mapping and rejects, in one line naming the
key, an unknown key (with the nearest valid one), a wrong type or a value out of range. Pure
functions in every layer take the section they need (`TrainParams`, `FeatureParams`, ...).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from common.errors import ChurnError

PARAMS_FILE = Path("params.yaml")


def _min(value: float, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A field whose value must be at least `value`."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"min": value}, **kw)
    return field(default=default, metadata={"min": value}, **kw)


def _share(default: float) -> Any:
    """A field holding a share in [0, 1]."""
    return field(default=default, metadata={"min": 0.0, "max": 1.0})


def _mapping(default: dict) -> Any:
    return field(default_factory=lambda: dict(default))


@dataclass(frozen=True)
class BaseParams:
    seed: int = 42


@dataclass(frozen=True)
class SparkParams:
    master: str = "local[*]"
    conf: Mapping[str, str | int | float | bool] = _mapping({})


@dataclass(frozen=True)
class ChurnParams:
    horizon_days: int = _min(1, 365)


@dataclass(frozen=True)
class FeatureParams:
    snapshots: int = _min(1, 12)
    snapshot_every_days: int = _min(1, 30)
    min_history_days: int = _min(0, 90)
    train_max_lapsed_days: int | None = _min(0, None)
    new_arrival_days: int = _min(1, 90)
    sale_week_volume_ratio: float = _min(1.0, 1.5)
    sale_week_lookback_weeks: int = _min(2, 8)
    membership_tiers: Mapping[str, int] = _mapping({"gold": 12, "silver": 9})


@dataclass(frozen=True)
class TrainParams:
    experiment: str | None = None      # None: churn-<project folder>-<path hash>
    model_name: str | None = None      # None: churn-<project folder>-<path hash>
    learning_rate: float = _min(1e-6, 0.2)
    num_leaves: int = _min(2, 8)
    max_depth: int = _min(-1, 4)
    min_child_samples: int = _min(1, 50)
    n_estimators: int = _min(1, 80)
    early_stopping_rounds: int = _min(1, 50)
    subsample: float = _share(0.8)
    colsample_bytree: float = _share(0.8)
    class_weight: Literal["balanced"] | None = None
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    tune_trials: int = _min(0, 0)
    sample_customers: int | None = _min(1, None)
    promotion_metric: Literal["roc_auc", "pr_auc", "brier", "ece"] = "roc_auc"
    promotion_margin: float = 0.002
    embargo_days: int = _min(0, 0)


@dataclass(frozen=True)
class EvaluateParams:
    btyd: bool = True
    rolling_folds: int = _min(0, 3)


@dataclass(frozen=True)
class ScoreParams:
    max_lapsed_days: int | None = _min(0, None)
    risk_tiers: Mapping[str, float] = _mapping({"high": 0.7, "medium": 0.4})
    explain_tiers: tuple[str, ...] = ("high", "medium")


@dataclass(frozen=True)
class ReasonParams:
    method: Literal["cause_model", "shap"] = "cause_model"
    prior: Mapping[str, float] = _mapping({"forgot": 0.50, "satisfaction": 0.10, "choice": 0.15,
                                           "price": 0.20, "other": 0.05})
    vocabulary: Mapping[str, tuple[str, ...]] = _mapping({})
    reference: Literal["lapsed", "none"] = "lapsed"
    min_confidence: float = _share(0.4)


@dataclass(frozen=True)
class MatrixParams:
    window_days: int = _min(1, 365)
    traffic_volume_quantile: float = _share(0.8)
    profit_margin_quantile: float = _share(0.6)
    edge_volume_quantile: float = _share(0.3)
    potential_launch_days: int = _min(0, 180)
    potential_min_growth: float = _min(0.0, 1.0)


@dataclass(frozen=True)
class RecommendParams:
    high_value_quantile: float = _share(0.8)
    lapsed_days: int = _min(0, 180)
    max_discount: float = _share(0.30)
    price_repeat_discount: float = _share(0.15)
    early_bird_discount: float = _share(0.05)
    profit_max_discount: float = _share(0.10)
    membership_discounts: Mapping[str, float] = _mapping(
        {"gold": 0.10, "silver": 0.07, "bronze": 0.05})
    products_per_customer: int = _min(0, 3)
    exclude_recent_days: int = _min(0, 180)
    budget_top_n: int | None = _min(0, None)
    budget_share: float = _share(0.2)


@dataclass(frozen=True)
class DriftParams:
    psi_warn: float = _min(0.0, 0.1)
    psi_alert: float = _min(0.0, 0.25)
    rate_shift_alert: float = _min(0.0, 0.10)
    reason_shift_alert: float = _min(0.0, 0.10)


IDENTIFIER = {"pattern": r"[A-Za-z_][A-Za-z0-9_]*"}


@dataclass(frozen=True)
class CampaignParams:
    holdout_share: float = field(default=0.10, metadata={"min": 0.0, "max": 0.5})
    response_days: int = _min(1, 30)
    outcome: str = "order"             # `order`, or an event type such as `visit`
    min_per_arm: int = _min(1, 100)
    explore_share: float = field(default=0.05, metadata={"min": 0.0, "max": 1.0})


@dataclass(frozen=True)
class ExportParams:
    database_url: str = "sqlite:///exports/churn.db"
    table: str = field(default="churn_scores", metadata=IDENTIFIER)
    contacts_table: str = field(default="churn_contacts", metadata=IDENTIFIER)
    results_table: str = field(default="churn_campaign_results", metadata=IDENTIFIER)
    include_holdout: bool = True


@dataclass(frozen=True)
class SynthParams:
    customers: int = _min(10, 20_000)


@dataclass(frozen=True)
class TableFormat:
    """How one table's file is laid out (params.yaml `data.tables.<name>`)."""

    file: str | None = None
    format: Literal["auto", "csv", "parquet", "whitespace"] = "auto"
    delimiter: str = ","
    decimal: str = field(default=".", metadata={"pattern": r"[.,]"})
    thousands: str | None = None
    header: bool = True
    names: tuple[str, ...] | None = None
    date_format: str | None = None
    encoding: str = "utf-8"
    columns: Mapping[str, str] = _mapping({})  # canonical name -> the shop's name


@dataclass(frozen=True)
class DataParams:
    input: str = "data/synthetic"
    max_bad_date_share: float = _share(0.01)
    tables: Mapping[str, TableFormat] = _mapping({})


@dataclass(frozen=True)
class Params:
    base: BaseParams = BaseParams()
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkParams = SparkParams()
    as_of: date | None = None
    churn: ChurnParams = ChurnParams()
    features: FeatureParams = FeatureParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    score: ScoreParams = ScoreParams()
    reasons: ReasonParams = ReasonParams()
    products: MatrixParams = MatrixParams()
    recommend: RecommendParams = RecommendParams()
    drift: DriftParams = DriftParams()
    campaigns: CampaignParams = CampaignParams()
    export: ExportParams = ExportParams()
    synth: SynthParams = SynthParams()
    data: DataParams = DataParams()


# --- parsing -------------------------------------------------------------------------------

def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(parts) + " or null"
    if origin in (Mapping, dict):
        return "a mapping"
    if origin is tuple:
        return "a list"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "text", bool: "true or false",
            date: "a date like 2024-06-30"}.get(tp, str(tp))


class _Bad(Exception):
    pass


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except _Bad:
                continue
        raise _Bad
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _Bad
    if origin in (Mapping, dict):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise _Bad
        _key_t, val_t = typing.get_args(tp)
        return {str(k): _convert_named(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _Bad
        (item_t, _ellipsis) = typing.get_args(tp)
        return tuple(_convert(item_t, v, where) for v in value)
    if dataclasses.is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise _Bad
        return _build(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Bad
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _Bad
    if tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise _Bad
    if tp is date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise _Bad from None
        raise _Bad
    raise _Bad


def _convert_named(tp: Any, value: Any, where: str) -> Any:
    try:
        return _convert(tp, value, where)
    except _Bad:
        raise ChurnError(f"params.yaml: {where} must be {_describe(tp)}, got {value!r}") from None


def _check_range(f: dataclasses.Field, value: Any, where: str) -> None:
    meta = f.metadata
    values = value.values() if isinstance(value, Mapping) else [value]
    for v in values:
        if v is None or not isinstance(v, int | float):
            continue
        if "min" in meta and v < meta["min"]:
            raise ChurnError(f"params.yaml: {where} must be at least {meta['min']}, got {v!r}")
        if "max" in meta and v > meta["max"]:
            raise ChurnError(f"params.yaml: {where} must be at most {meta['max']}, got {v!r}")
    if "pattern" in meta and value is not None and not re.fullmatch(meta["pattern"], value):
        raise ChurnError(f"params.yaml: {where} must match {meta['pattern']}, got {value!r}")


def _build(cls: type, raw: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            where = f"{prefix}.{key}" if prefix else str(key)
            near = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {prefix + '.' if prefix else ''}{near[0]}?)" if near else \
                f" (known: {', '.join(fields)})"
            raise ChurnError(f"params.yaml: unknown key {where}{hint}")
    values = {}
    for name, value in raw.items():
        where = f"{prefix}.{name}" if prefix else name
        converted = _convert_named(hints[name], value, where)
        _check_range(fields[name], converted, where)
        values[name] = converted
    return cls(**values)


def parse(raw: Mapping[str, Any] | None) -> Params:
    """The whole params tree from a parsed params.yaml; missing keys take the defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ChurnError("params.yaml: the top level must be a mapping of sections")
    return _build(Params, raw)


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; one clear line on any problem."""
    path = Path(path)
    if not path.exists():
        raise ChurnError(f"{path}: parameters file not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ChurnError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse(raw)


def as_dict(obj: Any) -> Any:
    """A params object as plain YAML-able data (for logging to MLflow and reports)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [as_dict(v) for v in obj]
    if isinstance(obj, date):
        return obj.isoformat()
    return obj
