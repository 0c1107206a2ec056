"""Where the contact history comes from: the shop's own `contacts` table (what its CRM actually
sent) when it has one, else the pipeline's contact log (every score batch with its holdouts)."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from common.params import ExportParams
from pipeline.export import read_table


def contact_history(tables: dict, p: ExportParams) -> tuple[ir.Table | pd.DataFrame | None, str]:
    """(contacts in the contract's shape, where they came from); None when there are none."""
    if "contacts" in tables:
        return tables["contacts"], "the shop's contacts table"
    log = read_table(p.database_url, p.contacts_table)
    if log.empty:
        return None, "none yet"
    history = log.rename(columns={"batch": "campaign_id"})
    history["contact_ts"] = pd.to_datetime(history["contact_ts"]).astype("datetime64[us]")
    return history, "the pipeline's contact log"
