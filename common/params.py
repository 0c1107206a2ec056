"""The one params model: a frozen pydantic model per params.yaml section.

The defaults live here and only here; a test checks that params.yaml spells out exactly these
values. `parse` builds the whole tree from a YAML mapping and turns pydantic's first complaint
into one line naming the key: an unknown key (with the nearest valid one), a wrong type or a
value out of range. Pure functions in every layer take the section they need (`TrainParams`,
`FeatureParams`, ...).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from pydantic import ValidationError as _ValidationError

from common.causes import DEFAULT_PRIOR
from common.errors import ChurnError

PARAMS_FILE = Path("params.yaml")

Share = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def _min(value: float) -> Any:
    return Field(ge=value)


class Section(BaseModel):
    """A params section: immutable, no unknown keys, numbers may be written as text nowhere."""
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class BaseParams(Section):
    seed: StrictInt = 42


class SparkParams(Section):
    master: str = "local[*]"
    conf: dict[str, str | StrictInt | StrictFloat | StrictBool] = {}


class DuckDBParams(Section):
    """Embedded DuckDB's memory: beyond `memory_limit` (e.g. "12GB", "800MiB"; None: half the
    machine's) it spills to `temp_directory`."""
    memory_limit: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")] | None = None
    temp_directory: str = ".tmp/duckdb"


class ChurnParams(Section):
    horizon_days: Annotated[StrictInt, _min(1)] = 365


class FeatureParams(Section):
    snapshots: Annotated[StrictInt, _min(1)] = 12
    snapshot_every_days: Annotated[StrictInt, _min(1)] = 30
    min_history_days: Annotated[StrictInt, _min(0)] = 90
    train_max_lapsed_days: Annotated[StrictInt, _min(0)] | None = None
    new_arrival_days: Annotated[StrictInt, _min(1)] = 90
    sale_week_volume_ratio: Annotated[StrictFloat, _min(1.0)] = 1.5
    sale_week_lookback_weeks: Annotated[StrictInt, _min(2)] = 8
    membership_tiers: dict[str, StrictInt] = {"gold": 12, "silver": 9}


class TrackingParams(Section):
    experiment: str | None = None      # None: churn-<project folder>-<path hash>
    model_name: str | None = None      # None: churn-<project folder>-<path hash>


class TrainParams(Section):
    learning_rate: Annotated[StrictFloat, _min(1e-6)] = 0.2
    num_leaves: Annotated[StrictInt, _min(2)] = 8
    max_depth: Annotated[StrictInt, _min(-1)] = 4
    min_child_samples: Annotated[StrictInt, _min(1)] = 50
    n_estimators: Annotated[StrictInt, _min(1)] = 80
    early_stopping_rounds: Annotated[StrictInt, _min(1)] = 50
    subsample: Share = 0.8
    colsample_bytree: Share = 0.8
    class_weight: Literal["balanced"] | None = None
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    tune_trials: Annotated[StrictInt, _min(0)] = 0
    sample_customers: Annotated[StrictInt, _min(1)] | None = 250_000
    promotion_metric: Literal["roc_auc", "pr_auc", "brier", "ece"] = "roc_auc"
    promotion_margin: StrictFloat = 0.002
    embargo_days: Annotated[StrictInt, _min(0)] = 0


class EvaluateParams(Section):
    btyd: StrictBool = True
    rolling_folds: Annotated[StrictInt, _min(0)] = 3


class ScoreParams(Section):
    max_lapsed_days: Annotated[StrictInt, _min(0)] | None = None
    risk_tiers: dict[str, StrictFloat] = {"high": 0.7, "medium": 0.4}
    explain_tiers: tuple[str, ...] = ("high", "medium")


class ReasonParams(Section):
    method: Literal["cause_model", "shap"] = "cause_model"
    prior: dict[str, StrictFloat] = dict(DEFAULT_PRIOR)
    vocabulary: dict[str, tuple[str, ...]] = {}
    reference: Literal["lapsed", "none"] = "lapsed"
    min_confidence: Share = 0.4


class MatrixParams(Section):
    window_days: Annotated[StrictInt, _min(1)] = 365
    traffic_volume_quantile: Share = 0.8
    profit_margin_quantile: Share = 0.6
    edge_volume_quantile: Share = 0.3
    potential_launch_days: Annotated[StrictInt, _min(0)] = 180
    potential_min_growth: Annotated[StrictFloat, _min(0.0)] = 1.0


class RecommendParams(Section):
    high_value_quantile: Share = 0.8
    lapsed_days: Annotated[StrictInt, _min(0)] = 180
    max_discount: Share = 0.30
    price_repeat_discount: Share = 0.15
    early_bird_discount: Share = 0.05
    profit_max_discount: Share = 0.10
    membership_discounts: dict[str, Share] = {"gold": 0.10, "silver": 0.07, "bronze": 0.05}
    products_per_customer: Annotated[StrictInt, _min(0)] = 3
    exclude_recent_days: Annotated[StrictInt, _min(0)] = 180
    budget: Literal["value", "share", "top_n"] = "value"
    budget_top_n: Annotated[StrictInt, _min(0)] | None = None
    budget_share: Share = 0.2
    max_contacts: Annotated[StrictInt, _min(0)] | None = None
    max_spend: Annotated[StrictFloat, _min(0.0)] | None = None
    channel_max_contacts: dict[str, Annotated[StrictInt, _min(0)]] = {}
    channel_max_spend: dict[str, Annotated[StrictFloat, _min(0.0)]] = {}
    channel_costs: dict[str, Annotated[StrictFloat, _min(0.0)]] = {
        "email": 0.05, "sms": 0.10, "phone": 3.0}


class DriftParams(Section):
    psi_warn: Annotated[StrictFloat, _min(0.0)] = 0.1
    psi_alert: Annotated[StrictFloat, _min(0.0)] = 0.25
    rate_shift_alert: Annotated[StrictFloat, _min(0.0)] = 0.10
    reason_shift_alert: Annotated[StrictFloat, _min(0.0)] = 0.10


class CampaignParams(Section):
    holdout_share: Annotated[StrictFloat, Field(ge=0.0, le=0.5)] = 0.10
    response_days: Annotated[StrictInt, _min(1)] = 30
    outcome: str = "order"             # `order`, or an event type such as `visit`
    min_per_arm: Annotated[StrictInt, _min(1)] = 100
    explore_share: Share = 0.05
    prior_lift: Annotated[StrictFloat, Field(ge=0.0, le=0.5)] = 0.03
    thompson_draws: Annotated[StrictInt, _min(16)] = 256
    decide_confidence: Annotated[StrictFloat, Field(ge=0.5, lt=1.0)] = 0.95


class ExportParams(Section):
    database_url: str = "sqlite:///exports/churn.db"
    table: Identifier = "churn_scores"
    contacts_table: Identifier = "churn_contacts"
    results_table: Identifier = "churn_campaign_results"
    include_holdout: StrictBool = True


class ReportParams(Section):
    """`churn report`: how money is written and what a contact costs (estimates the shop sets)."""

    currency: str = "€"
    contact_costs: dict[str, Annotated[StrictFloat, _min(0.0)]] = {
        "email": 0.05, "sms": 0.10, "phone": 3.00}
    send_list_rows: Annotated[StrictInt, _min(1)] = 20_000


class SynthParams(Section):
    customers: Annotated[StrictInt, _min(10)] = 20_000


class TableFormat(Section):
    """How one table's file is laid out (params.yaml `data.tables.<name>`; docs/data-contract.md).
    """

    file: str | None = None
    format: Literal["auto", "csv", "parquet", "json", "whitespace"] = "auto"
    delimiter: str = ","
    decimal: Literal["auto", ".", ","] = "auto"
    thousands: str | None = "auto"          # auto, null (none) or the separator
    header: StrictBool = True
    names: tuple[str, ...] | None = None
    date_format: str | None = None          # null (inferred per column), dayfirst, monthfirst,
    #                                         epoch_s, epoch_ms, excel or a strftime format
    encoding: str = "utf-8"
    columns: dict[str, str] = {}  # canonical name -> the shop's name
    status_map: dict[str, Literal["completed", "returned", "cancelled"]] = {}   # orders only


class DataParams(Section):
    input: str = "data/synthetic"
    max_bad_share: Share = 0.01
    tables: dict[str, TableFormat] = {}


class Params(Section):
    base: BaseParams = BaseParams()
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkParams = SparkParams()
    duckdb: DuckDBParams = DuckDBParams()
    as_of: Annotated[date, Field(strict=False)] | None = None
    churn: ChurnParams = ChurnParams()
    features: FeatureParams = FeatureParams()
    tracking: TrackingParams = TrackingParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    score: ScoreParams = ScoreParams()
    reasons: ReasonParams = ReasonParams()
    products: MatrixParams = MatrixParams()
    recommend: RecommendParams = RecommendParams()
    drift: DriftParams = DriftParams()
    campaigns: CampaignParams = CampaignParams()
    export: ExportParams = ExportParams()
    report: ReportParams = ReportParams()
    synth: SynthParams = SynthParams()
    data: DataParams = DataParams()


#: keys that moved to another section, so an old params.yaml says where
MOVED = {"train.experiment": "tracking.experiment", "train.model_name": "tracking.model_name",
         "data.max_bad_date_share": "data.max_bad_share"}

# --- one line per mistake ------------------------------------------------------------------

_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false",
          "string": "text", "date": "a date like 2024-06-30", "dict": "a mapping",
          "model": "a mapping", "tuple": "a list", "list": "a list"}


def _walk(loc: tuple) -> tuple[type[BaseModel] | None, Any]:
    """Follow `loc` through the params models: (the model whose field is the last key, or
    None when the last key is a mapping's own key; that key's annotation)."""
    current: Any = Params
    holder, annotation, in_mapping = None, None, False
    for key in loc:
        if in_mapping:          # a key of a mapping field: the value type follows
            holder, in_mapping = None, False
        else:
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None, None
            holder = current
            field = current.model_fields.get(str(key))
            if field is None:
                return holder, None
            annotation = current = field.annotation
        args = [a for a in typing.get_args(current) if a is not type(None)]
        if typing.get_origin(current) in (typing.Union, types.UnionType) and args:
            current = args[0]
        if typing.get_origin(current) is dict:
            current, in_mapping = typing.get_args(current)[1], True
    return holder, annotation


def _one_line(error: dict) -> str:
    loc = tuple(x for x in error["loc"] if not (isinstance(x, str) and "[" in x))
    where = ".".join(map(str, loc))
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        if where in MOVED:
            return f"params.yaml: {where} has moved to {MOVED[where]}"
        holder = _walk(loc)[0]
        known = list(holder.model_fields) if holder else []
        near = difflib.get_close_matches(str(loc[-1]), known, n=1)
        prefix = ".".join(map(str, loc[:-1]))
        prefix = f"{prefix}." if prefix else ""
        hint = f" (did you mean {prefix}{near[0]}?)" if near else f" (known: {', '.join(known)})"
        return f"params.yaml: unknown key {where}{hint}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"params.yaml: {where} must be at least {ctx.get('ge', ctx.get('gt'))}, " \
               f"got {value!r}"
    if kind in ("less_than_equal", "less_than"):
        return f"params.yaml: {where} must be at most {ctx.get('le', ctx.get('lt'))}, " \
               f"got {value!r}"
    if kind == "string_pattern_mismatch":
        return f"params.yaml: {where} must match {ctx.get('pattern')}, got {value!r}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"params.yaml: {where} must be one of {expected}, got {value!r}"
    what = next((text for prefix, text in _KINDS.items() if kind.startswith(prefix)),
                kind.replace("_", " "))
    annotation = _walk(loc)[1]
    optional = type(None) in typing.get_args(annotation)
    return f"params.yaml: {where} must be {what}{' or null' if optional else ''}, got {value!r}"


def parse(raw: Mapping[str, Any] | None) -> Params:
    """The whole params tree from a parsed params.yaml; missing keys take the defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ChurnError("params.yaml: the top level must be a mapping of sections")
    try:
        return Params.model_validate(dict(raw))
    except _ValidationError as exc:
        raise ChurnError(_one_line(exc.errors()[0])) from None


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


def as_dict(obj: BaseModel) -> dict[str, Any]:
    """A params object as plain YAML-able data (for logging to MLflow and reports)."""
    return obj.model_dump(mode="json")
