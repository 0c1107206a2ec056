"""The params model: one loader, typed sections, one clear line for every kind of mistake."""

from __future__ import annotations

from datetime import date

import pytest

from common.errors import ChurnError
from common.params import Params, TableFormat, load_params, parse


def test_missing_keys_take_the_typed_defaults_and_values_are_typed():
    p = parse({"churn": {"horizon_days": 182}, "as_of": "2024-06-30",
               "data": {"tables": {"orders": {"names": ["a", "b"], "decimal": ","}}}})
    assert p.churn.horizon_days == 182 and p.as_of == date(2024, 6, 30)
    assert p.train == Params().train
    assert p.data.tables["orders"] == TableFormat(names=("a", "b"), decimal=",")
    assert isinstance(parse({"train": {"learning_rate": 1}}).train.learning_rate, float)


@pytest.mark.parametrize("raw, message", [
    ({"train": {"n_estimatrs": 10}},
     "params.yaml: unknown key train.n_estimatrs (did you mean train.n_estimators?)"),
    ({"recommend": {"budget_shar": 0.2}}, "did you mean recommend.budget_share?"),
    ({"trian": {}}, "unknown key trian (did you mean train?)"),
    ({"churn": {"horizon_days": "abc"}}, "churn.horizon_days must be an integer, got 'abc'"),
    ({"churn": {"horizon_days": 0}}, "churn.horizon_days must be at least 1, got 0"),
    ({"churn": {"horizon_days": -30}}, "churn.horizon_days must be at least 1, got -30"),
    ({"churn": {"horizon_days": True}}, "churn.horizon_days must be an integer"),
    ({"as_of": "yesterday"}, "as_of must be a date like 2024-06-30 or null, got 'yesterday'"),
    ({"engine": "polars"}, "engine must be one of duckdb, spark, got 'polars'"),
    ({"recommend": {"budget_share": 1.5}}, "recommend.budget_share must be at most 1.0"),
    ({"export": {"table": "x; drop"}}, "export.table must match"),
    ({"data": {"tables": {"orders": {"delimeter": ";"}}}},
     "unknown key data.tables.orders.delimeter (did you mean data.tables.orders.delimiter?)"),
    ({"score": {"risk_tiers": {"high": "x"}}}, "score.risk_tiers.high must be a number"),
    (["not", "a", "mapping"], "the top level must be a mapping"),
])
def test_every_mistake_is_one_line_naming_the_key(raw, message):
    with pytest.raises(ChurnError) as err:
        parse(raw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_file_itself(tmp_path):
    with pytest.raises(ChurnError, match="parameters file not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ChurnError, match="not valid YAML"):
        load_params(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_params(empty) == Params()
