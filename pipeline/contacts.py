"""Where the contact history comes from: the shop's own `contacts` table (what its CRM actually
sent) when it has one, else the pipeline's contact log as the history stage read it back."""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

CONTACT_LOG = "contacts.parquet"
PAST_SCORES = "scores.parquet"


def contact_history(tables: dict, history: Path) -> tuple[ir.Table | pd.DataFrame | None, str]:
    """(contacts in the contract's shape, where they came from); None when there are none."""
    if "contacts" in tables:
        return tables["contacts"], "the shop's contacts table"
    path = Path(history) / CONTACT_LOG
    log = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    if log.empty:
        return None, "none yet"
    history_rows = log.rename(columns={"batch": "campaign_id"})
    history_rows["contact_ts"] = pd.to_datetime(history_rows["contact_ts"]).astype(
        "datetime64[us]")
    return history_rows, "the pipeline's contact log"


def past_scores(history: Path) -> pd.DataFrame:
    """Every earlier batch's churn scores (customer_id, as_of, churn_probability)."""
    path = Path(history) / PAST_SCORES
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()
