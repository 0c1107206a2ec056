"""Product suggestions: up to k products per customer from the classes their action calls for
(traffic, profit, edge, potential), in categories they bought, not bought recently."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from common.params import RecommendParams
from features.engine import completed_orders


def purchase_history(tables: Mapping[str, ir.Table], as_of: date, recent_days: int
                     ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(customer, category) pairs bought up to as_of, and (customer, product) pairs bought in
    the last `recent_days`: where suggestions come from and what they leave out."""
    if "order_items" not in tables:
        return None, pd.DataFrame(columns=["customer_id", "product_id"])
    o = completed_orders(tables["orders"], as_of)
    lines = tables["order_items"].join(o.select("order_id", "customer_id", "order_date"),
                                       "order_id")
    cats = None
    products = tables.get("products")
    if products is not None and "category" in products.columns:
        cats = lines.join(products.select("product_id", "category"), "product_id").select(
            "customer_id", "category").distinct().execute()
    recent = lines.filter(lines.order_date > as_of - timedelta(days=recent_days)).select(
        "customer_id", "product_id").distinct().execute()
    return cats, recent


def add_product_suggestions(scored: pd.DataFrame, matrix: pd.DataFrame,
                            tables: Mapping[str, ir.Table], as_of: date,
                            p: RecommendParams) -> pd.DataFrame:
    """product_ids (comma-separated) and product_note per customer."""
    if matrix.empty:
        return scored.assign(product_ids="", product_note="no item data: no product suggestions")
    cats, recent = purchase_history(tables, as_of, p.exclude_recent_days)
    targets = scored.loc[scored["product_classes"] != "", ["customer_id", "product_classes"]]
    ids = suggest_products(targets, matrix, cats, recent, p.products_per_customer)
    return scored.assign(product_ids=scored["customer_id"].map(ids).fillna("").astype(str),
                         product_note="")


def _join_columns(frame: pd.DataFrame) -> pd.Series:
    """Row-wise ",".join of the non-empty string columns, vectorised."""
    out = pd.Series("", index=frame.index, dtype=object)
    for col in frame.columns:
        value = frame[col].fillna("")
        sep = np.where((out != "") & (value != ""), ",", "")
        out = out + sep + value
    return out


def suggest_products(targets: pd.DataFrame, matrix: pd.DataFrame,
                     customer_categories: pd.DataFrame | None, recent: pd.DataFrame,
                     k: int, recent_margin: int = 3) -> pd.Series:
    """Up to k product ids per customer from their target classes, in categories they bought
    (when categories are known), not bought by them recently, most popular first.

    Customers who bought the same categories and get the same classes share one candidate list
    (a few hundred distinct lists for a million customers), so each list is built once; the
    recent purchases are then removed from the first k + `recent_margin` candidates of each
    customer in one vectorised anti-join."""
    if targets.empty or matrix.empty:
        return pd.Series(dtype="string")
    shortlist = matrix.sort_values("popularity_rank", kind="stable").groupby(
        ["category", "product_class"], dropna=False).head(k + recent_margin)
    ids = targets["customer_id"].astype(str).reset_index(drop=True)
    classes = targets["product_classes"].astype(str).reset_index(drop=True)
    use_categories = customer_categories is not None and matrix["category"].notna().any()
    if use_categories:
        # the set of categories a customer bought, as a sum of random 64-bit weights
        bought = pd.DataFrame({"customer_id": customer_categories["customer_id"].astype(str),
                               "category": customer_categories["category"].astype(str)}
                              ).drop_duplicates()
        code, names = pd.factorize(bought["category"])
        weights = np.random.default_rng(0).integers(1, 2**63, len(names), dtype=np.uint64)
        key = pd.Series(weights[code], index=bought["customer_id"]).groupby(level=0).sum()
        cat_key = pd.Series(key.reindex(ids.to_numpy(), fill_value=np.uint64(0)).to_numpy())
    else:
        cat_key = pd.Series(np.zeros(len(ids), dtype=np.uint64))
    codes, uniques = pd.MultiIndex.from_arrays([cat_key, classes]).factorize()
    first_customer = pd.Series(np.arange(len(ids))).groupby(codes).first()
    cats_of = None
    if use_categories:      # the categories of one customer per signature: all share them
        reps = ids.iloc[first_customer.to_numpy()]
        cats_of = bought[bought["customer_id"].isin(reps)].groupby("customer_id")[
            "category"].agg(list)

    # (category, class) -> [(rank, product)], most popular first; plain lists: a shop with
    # many categories has many signatures, and each list is a few dozen products at most
    cell: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for cat, cls, rank, pid in zip(
            shortlist["category"].astype(str), shortlist["product_class"].astype(str),
            shortlist["popularity_rank"], shortlist["product_id"].astype(str), strict=True):
        cell.setdefault((cat if use_categories else "", cls), []).append((rank, pid))
    lists = []
    for u, (_key, cls) in enumerate(uniques):
        cats = cats_of.get(ids.iloc[first_customer[u]], []) if use_categories else [""]
        picked: list[str] = []
        for c in cls.split(","):
            pool = sorted(x for cat in cats for x in cell.get((cat, c), ()))
            picked += [pid for _rank, pid in pool]
        lists.append(picked[:k + recent_margin])

    width = k + recent_margin
    table = np.array([c + [None] * (width - len(c)) for c in lists], dtype=object)
    long = pd.DataFrame({"customer_id": np.repeat(ids.to_numpy(), width),
                         "pos": np.tile(np.arange(width), len(ids)),
                         "product_id": table[codes].reshape(-1)}).dropna(subset="product_id")
    if not recent.empty:
        seen = pd.MultiIndex.from_arrays([recent["customer_id"].astype(str),
                                          recent["product_id"].astype(str)])
        long = long[~pd.MultiIndex.from_frame(long[["customer_id", "product_id"]]).isin(seen)]
    long = long[long.groupby("customer_id", sort=False).cumcount() < k]
    wide = long.assign(rank=long.groupby("customer_id", sort=False).cumcount()).pivot(
        index="customer_id", columns="rank", values="product_id")
    out = _join_columns(wide)
    return out[out != ""].astype("string")
