"""Batch scoring on Spark: the per-customer work (probability, SHAP reasons, drivers) runs in
`mapInPandas`, the model unpickled once per partition from a broadcast; the global steps
(high-value cut, actions, contact budget, product suggestions) run on the driver over the
scored columns, with the same code as the DuckDB engine."""

from __future__ import annotations

from pathlib import Path

import cloudpickle
import pandas as pd

from common.params import ReasonParams, ScoreParams
from models.churn.model import ChurnModel
from models.churn.scoring import ROW_COLUMNS, score_rows


def spark_score_rows(session, features: Path, model: ChurnModel, sp: ScoreParams,
                     rp: ReasonParams) -> pd.DataFrame:
    frame = session.read.parquet(str(features)).where("split = 'score'")
    payload = session.sparkContext.broadcast(cloudpickle.dumps((model, sp, rp)))
    schema = ", ".join(f"{name} {kind}" for name, kind in ROW_COLUMNS.items())

    def score_partition(batches):
        partition_model, score_params, reason_params = cloudpickle.loads(payload.value)
        for batch in batches:
            if len(batch):
                yield score_rows(batch, partition_model, score_params, reason_params)

    return frame.mapInPandas(score_partition, schema=schema).toPandas()
