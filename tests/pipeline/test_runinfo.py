"""Run settings: overrides for one run, checked like params.yaml, resolved once by ingest."""

from __future__ import annotations

import json
from datetime import date

import pytest

from common.errors import ChurnError
from common.params import Params
from pipeline.runinfo import (
    OVERRIDES_ENV,
    overrides_from_env,
    read_run_info,
    resolve,
    with_overrides,
    write_run_info,
)


def test_overrides_replace_only_their_keys():
    base = Params()
    out = with_overrides(base, {"as_of": "2024-06-30", "churn.horizon_days": 182,
                                "data.input": "/shops/a"})
    assert out.as_of == date(2024, 6, 30) and out.churn.horizon_days == 182
    assert out.data.input == "/shops/a" and out.train == base.train
    assert with_overrides(base, {}) == base


@pytest.mark.parametrize("overrides, message", [
    ({"churn.horizon_days": 0}, "churn.horizon_days must be at least 1"),
    ({"as_of": "soon"}, "as_of must be a date"),
    ({"train.learning_rate": 0.1}, "cannot override ['train.learning_rate'] for one run"),
])
def test_bad_overrides_are_one_line(overrides, message):
    with pytest.raises(ChurnError, match=message.replace("[", r"\[").replace("]", r"\]")):
        with_overrides(Params(), overrides)


def test_overrides_travel_in_the_environment(monkeypatch):
    monkeypatch.delenv(OVERRIDES_ENV, raising=False)
    assert overrides_from_env() == {}
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"as_of": "2024-01-31"}))
    assert overrides_from_env() == {"as_of": "2024-01-31"}
    monkeypatch.setenv(OVERRIDES_ENV, "{broken")
    with pytest.raises(ChurnError, match="not a JSON object"):
        overrides_from_env()


def test_as_of_defaults_to_the_last_order_and_may_not_precede_the_first(tmp_path):
    first, last = date(2023, 1, 5), date(2024, 12, 30)
    run = resolve(Params(), first, last)
    assert run.as_of == last and run.horizon_days == 365
    with pytest.raises(ChurnError, match="before the first order"):
        resolve(with_overrides(Params(), {"as_of": "2022-12-31"}), first, last)
    write_run_info(run, tmp_path)
    assert read_run_info(tmp_path) == run
    with pytest.raises(ChurnError, match="run the ingest stage first"):
        read_run_info(tmp_path / "nowhere")
