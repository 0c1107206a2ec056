"""One project, one shop: the contact log and the models of a project belong to the shop whose
batches they hold. A run on a shop whose customers are not those of the project's last batch
stops with one line (its batches would be measured against the other shop's orders, and the
gate would compare the other shop's champion); `churn run --new-shop` gives the project a new
shop identity, so the new shop gets a contact log, an experiment and models of its own."""

from __future__ import annotations

import os
import re

import pandas as pd

from common.errors import ChurnError
from common.ids import canonical_ids
from common.params import ExportParams
from pipeline.export import read_table
from pipeline.tracking import PROJECT_FILE, project_id

#: set by `churn run --new-shop`: this run starts another shop in the project
NEW_SHOP_ENV = "CHURN_NEW_SHOP"
#: the share of the last batch's customers a shop must still have to be the same shop
MIN_SAME_SHOP = 0.5


def of_this_shop(rows: pd.DataFrame, shop: str) -> pd.DataFrame:
    """Contact log rows of the current shop (rows logged before shops were named count as
    the current shop's)."""
    if rows.empty or "shop" not in rows:
        return rows
    return rows[rows["shop"].isna() | (rows["shop"].astype(str) == shop)]


def check_same_shop(customers: pd.Series, p: ExportParams) -> str:
    """'' when the shop is the project's (or the project has no batch yet); with --new-shop a
    new shop identity and a line saying so; otherwise one line naming the overlap and the
    way out."""
    log = of_this_shop(read_table(p.database_url, p.contacts_table), project_id())
    if log.empty:
        return ""
    last = log[log["batch"].astype(str) == log["batch"].astype(str).max()]
    known = canonical_ids(last["customer_id"]).isin(set(canonical_ids(customers)))
    share = float(known.mean()) if len(known) else 1.0
    if share >= MIN_SAME_SHOP:
        return ""
    if os.environ.get(NEW_SHOP_ENV) != "1":
        raise ChurnError(
            f"only {share:.0%} of the customers of this project's last batch "
            f"({last['batch'].iloc[0]}, {len(last):,} contacts) are in this shop: it looks like "
            "another shop. Run it in a project of its own, or `churn run --new-shop` to start "
            "its own contact log and models here")
    return new_shop()


def new_shop() -> str:
    """A new shop identity for the project (the next suffix of .churn-project)."""
    found = re.fullmatch(r"(.*)-shop(\d+)", project_id())
    base, n = (found.group(1), int(found.group(2))) if found else (project_id(), 1)
    shop = f"{base}-shop{n + 1}"
    with open(PROJECT_FILE, "w") as fh:
        fh.write(shop + "\n")
    return f"a new shop in this project: its contact log and models are {shop}'s"
