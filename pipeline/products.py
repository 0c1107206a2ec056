"""DVC stage `products`: the product matrix from order items (traffic / profit / edge /
potential), as a table, a plot and a report. Shops without item data get an empty matrix."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from models.product_matrix import CLASSES, MatrixParams, classify, product_stats  # noqa: E402
from pipeline.features import connect_canonical, resolve_as_of  # noqa: E402
from pipeline.io import write_json, write_parquet, write_with  # noqa: E402
from pipeline.params import load_params  # noqa: E402

log = logging.getLogger(__name__)
COLUMNS = ["product_id", "category", "product_class", "units", "revenue", "margin",
           "first_order_share", "repeat_buyer_share", "basket_share", "growth",
           "popularity_rank"]


def matrix_plot(matrix: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if matrix.empty:
        ax.text(0.5, 0.5, "no item data: no product matrix", ha="center", va="center")
        ax.set_axis_off()
        write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
        plt.close(fig)
        return
    y = matrix["margin"] if matrix["margin"].notna().any() else matrix["repeat_buyer_share"]
    for cls in CLASSES:
        part = matrix["product_class"] == cls
        ax.scatter(matrix.loc[part, "units"], y[part], s=12, label=cls, alpha=0.7)
    ax.set(xscale="log", xlabel="units sold (window)", ylabel=y.name.replace("_", " "),
           title="Product matrix")
    ax.legend()
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--out", default="data/products.parquet")
    parser.add_argument("--report", default="reports/products.json")
    parser.add_argument("--plot", default="reports/product_matrix.png")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    mp = MatrixParams(**(params.get("products") or {}))
    con, tables = connect_canonical(Path(args.canonical))
    as_of, _ = resolve_as_of(params, tables["orders"])
    if "order_items" not in tables:
        matrix = pd.DataFrame({c: pd.Series(dtype="string" if c in (
            "product_id", "category", "product_class") else "float64") for c in COLUMNS})
        note = "no order_items table: no product matrix and no product suggestions"
    else:
        stats = con.execute(product_stats(tables["order_items"], tables["orders"],
                                          tables.get("products"), as_of, mp))
        matrix = classify(stats, as_of, mp)
        if "category" not in matrix:
            matrix["category"] = pd.NA
        matrix = matrix[COLUMNS]
        note = ""
    matrix_plot(matrix, Path(args.plot))
    write_parquet(matrix, args.out)
    counts = matrix["product_class"].value_counts().reindex(list(CLASSES), fill_value=0)
    write_json({"as_of": as_of.isoformat(), "products": len(matrix),
                "classes": {k: int(v) for k, v in counts.items()}, "note": note,
                "params": mp.__dict__}, args.report)
    log.info("product matrix: %s", dict(counts))


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
