"""Where the contact history comes from: the shop's own `contacts` table (what its CRM actually
sent) when it has one, else the pipeline's contact log as the history stage read it back.

Ids read back take the one spelling ingest gives every table (common/ids.py), so a customer
written `1011` one week and `001011` the next is one customer. A batch whose contacts are
mostly not the shop's customers is not measured: every such contact would count as a treated
non-responder and drag the uplift towards 0 (`screen_contacts`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from common.ids import canonical_ids

log = logging.getLogger(__name__)

CONTACT_LOG = "contacts.parquet"
PAST_SCORES = "scores.parquet"
#: a batch measured needs at least this share of its contacts among the shop's customers
MIN_KNOWN_SHARE = 0.9


def contact_history(tables: dict, history: Path) -> tuple[ir.Table | pd.DataFrame | None, str]:
    """(contacts in the contract's shape, where they came from); None when there are none."""
    if "contacts" in tables:
        return tables["contacts"], "the shop's contacts table"
    path = Path(history) / CONTACT_LOG
    log_rows = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    if log_rows.empty:
        return None, "none yet"
    history_rows = log_rows.rename(columns={"batch": "campaign_id"})
    history_rows["customer_id"] = canonical_ids(history_rows["customer_id"])
    history_rows["contact_ts"] = pd.to_datetime(history_rows["contact_ts"]).astype(
        "datetime64[us]")
    return history_rows, "the pipeline's contact log"


def past_scores(history: Path) -> pd.DataFrame:
    """Every earlier batch's churn scores (customer_id, as_of, churn_probability)."""
    path = Path(history) / PAST_SCORES
    scores = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    if len(scores):
        scores["customer_id"] = canonical_ids(scores["customer_id"])
    return scores


def screen_contacts(rows: ir.Table, orders: ir.Table | pd.DataFrame,
                    min_known: float = MIN_KNOWN_SHARE) -> tuple[ir.Table, list[dict]]:
    """Contacts (with a `batch`, as `outcomes` gives them) of the shop's own customers.

    A batch with fewer than `min_known` of its contacts among the customers in `orders` is
    left out whole (another shop's log, or ids spelled otherwise); in every other batch the
    few unknown contacts are left out. Returns the kept rows and one note per batch affected.
    """
    o = orders if isinstance(orders, ir.Table) else ibis.memtable(orders)
    marked = rows.mutate(_known=rows.customer_id.isin(o.customer_id))
    per = marked.group_by("batch").aggregate(
        contacts=_.count(), known=_._known.cast("int64").sum()).execute()
    per = per[per["known"] < per["contacts"]].sort_values("batch")
    if per.empty:
        return rows, []
    stopped = per.loc[per["known"] < min_known * per["contacts"], "batch"].tolist()
    unknown = marked.filter(~marked._known & marked.batch.isin(per["batch"].tolist()))
    shown = unknown.group_by("batch").aggregate(low=_.customer_id.min(),
                                                high=_.customer_id.max()).execute()
    shown = {r.batch: sorted({r.low, r.high}) for r in shown.itertuples()}
    notes = []
    for r in per.itertuples():
        missing = int(r.contacts - r.known)
        measured = r.batch not in stopped
        ids = ", ".join(repr(str(i)) for i in shown.get(r.batch, []))
        text = (f"batch {r.batch}: {missing:,} of {int(r.contacts):,} contacts "
                f"({missing / r.contacts:.0%}) are for customers not in the orders (e.g. {ids})")
        text += ("; left out of its measurement" if measured else
                 f"; fewer than {min_known:.0%} match, so the batch is not measured: are its "
                 "ids spelled as in the orders, and is it this shop's?")
        log.warning(text)
        notes.append({"batch": str(r.batch), "contacts": int(r.contacts),
                      "unknown_customers": missing, "measured": measured, "note": text})
    kept = marked.filter(marked._known & ~marked.batch.isin(stopped) if stopped
                         else marked._known)
    return kept.drop("_known"), notes
