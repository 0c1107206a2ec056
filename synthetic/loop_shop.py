"""A shop that answers its own batches: the bookkeeping both loop simulators share.

A generated shop runs past the first batch date; its orders after a date are the future that
would happen without contacts. A batch (the pipeline's export, or any list with customer_id,
action, in_budget and holdout) is answered by the simulator's response mechanism, which adds
orders (responses) and removes or discounts orders of the natural future; the next batch reads
the shop as it is then (`tables(as_of)`: nothing dated after as_of). Imports nothing from the
project: the simulators only read the export's columns.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

LOYAL = "loyal"
#: what a batch may contain; a row is sent when in_budget, not held out and action != none
BATCH_COLUMNS = ("customer_id", "action", "in_budget", "holdout")
TS_COLUMNS = {"returns": "return_ts", "reviews": "review_ts", "events": "event_ts"}


def sent_mask(batch: pd.DataFrame) -> np.ndarray:
    """Rows the shop actually sends: the lead's `send` column when the export has it."""
    if "send" in batch:
        return batch["send"].fillna(False).astype(bool).to_numpy()
    hold = batch["holdout"].fillna(False).astype(bool) if "holdout" in batch else False
    return (batch["in_budget"].astype(bool) & ~hold & batch["action"].astype(str).ne("none")
            ).to_numpy()


class LoopShop:
    """The shop's tables with a future, the contacts' consequences and the truth."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], truth: pd.DataFrame,
                 response_days: int, seed: int) -> None:
        self.base = {k: v.copy() for k, v in tables.items()}
        orders = self.base["orders"]
        orders["customer_id"] = orders["customer_id"].astype(str)
        self.factor = pd.Series(1.0, index=orders["order_id"].astype(str))
        self.dropped: set[str] = set()
        self.extra: list[pd.DataFrame] = []
        self.response_days = response_days
        self.rng = np.random.default_rng(seed)
        cause = truth["cause"].astype(object).where(truth["cause"].notna(), LOYAL)
        self.cause = pd.Series(cause.to_numpy(), index=truth["customer_id"].astype(str))
        self.typical = orders.groupby("customer_id")["amount"].median()
        self.answered: list[dict] = []

    # --- reading ------------------------------------------------------------------------
    def orders(self) -> pd.DataFrame:
        o = self.base["orders"]
        o = o[~o["order_id"].astype(str).isin(self.dropped)].copy()
        o["amount"] = np.round(o["amount"] * self.factor.reindex(
            o["order_id"].astype(str)).to_numpy(), 2)
        if self.extra:
            o = pd.concat([o, *self.extra], ignore_index=True)
        return o.sort_values(["order_ts", "order_id"], kind="stable", ignore_index=True)

    def tables(self, as_of) -> dict[str, pd.DataFrame]:
        """Every table as the shop knows it at the end of `as_of`."""
        end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        orders = self.orders()
        orders = orders[orders["order_ts"] < end].reset_index(drop=True)
        out = {"orders": orders}
        for name, frame in self.base.items():
            if name == "orders":
                continue
            if name == "order_items":
                out[name] = frame[frame["order_id"].isin(orders["order_id"])].reset_index(
                    drop=True)
            elif name in TS_COLUMNS:
                keep = frame[TS_COLUMNS[name]] < end
                if "order_id" in frame and name == "returns":
                    keep &= frame["order_id"].isin(orders["order_id"])
                out[name] = frame[keep].reset_index(drop=True)
            else:
                out[name] = frame
        return out

    def natural(self, ids: pd.Series, start: pd.Timestamp) -> pd.DataFrame:
        """The natural (not dropped) future orders of `ids` in the response window after
        `start`: order_id, customer_id, order_ts."""
        o = self.base["orders"]
        end = start + pd.Timedelta(days=self.response_days)
        o = o[(o["order_ts"] > start) & (o["order_ts"] <= end)
              & o["customer_id"].isin(set(ids.astype(str)))
              & ~o["order_id"].astype(str).isin(self.dropped)]
        if "status" in o:
            o = o[o["status"].fillna("completed") == "completed"]
        return o[["order_id", "customer_id", "order_ts"]]

    def value(self, ids: pd.Series) -> np.ndarray:
        """What a response is worth: the customer's typical order."""
        fill = float(self.typical.median()) if len(self.typical) else 50.0
        return self.typical.reindex(ids.astype(str)).fillna(fill).to_numpy(float)

    # --- writing ------------------------------------------------------------------------
    def add_orders(self, ids: np.ndarray, start: pd.Timestamp, discount: np.ndarray,
                   tag: str) -> None:
        """One response order per id inside the window, at their typical amount."""
        if not len(ids):
            return
        ids = pd.Series(ids).astype(str)
        offset = pd.to_timedelta(self.rng.uniform(0.5, self.response_days - 0.5, len(ids)),
                                 unit="D")
        amount = self.value(ids) * np.exp(self.rng.normal(0, 0.3, len(ids))) * (1 - discount)
        n0 = sum(len(e) for e in self.extra)
        self.extra.append(pd.DataFrame({
            "order_id": [f"R{tag}{n0 + j:07d}" for j in range(len(ids))],
            "customer_id": ids.to_numpy(), "order_ts": (start + offset).floor("s"),
            "amount": np.round(amount, 2), "status": "completed"}).astype(
            {"order_ts": self.base["orders"]["order_ts"].dtype}))

    def discount(self, order_ids: pd.Series, depth: float) -> None:
        """Natural orders in a discount's window are charged at the discounted price."""
        ids = order_ids.astype(str)
        self.factor.loc[ids] = self.factor.reindex(ids).fillna(1.0).to_numpy() * (1 - depth)

    def drop(self, order_ids: pd.Series) -> None:
        self.dropped |= set(order_ids.astype(str))
