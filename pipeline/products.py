"""DVC stage `products`: the product matrix from order items (traffic / profit / edge /
potential), as a table, a plot and a report. Shops without item data get an empty matrix."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path

from common.params import load_params
from models.plots import matrix_figure
from models.product_matrix import CLASSES, classify, empty_matrix, product_stats
from pipeline.engines import connect_canonical
from pipeline.io import write_json, write_parquet, write_with
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--out", default="data/products.parquet")
    parser.add_argument("--report", default="reports/products.json")
    parser.add_argument("--plot", default="reports/product_matrix.png")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    mp = params.products
    run = read_run_info(Path(args.canonical))
    con, tables = connect_canonical(Path(args.canonical), params)
    if "order_items" not in tables:
        matrix = empty_matrix()
        note = "no order_items table: no product matrix and no product suggestions"
    else:
        stats = con.execute(product_stats(tables["order_items"], tables["orders"],
                                          tables.get("products"), run.as_of, mp))
        matrix = classify(stats, run.as_of, mp)
        note = ""
    fig = matrix_figure(matrix)
    write_with(args.plot, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    write_parquet(matrix, args.out)
    counts = matrix["product_class"].value_counts().reindex(list(CLASSES), fill_value=0)
    classes = {k: int(v) for k, v in counts.items()}
    write_json({"as_of": run.as_of.isoformat(), "products": len(matrix), "classes": classes,
                "note": note, "params": asdict(mp)}, args.report)
    log.info("product matrix: %s", ", ".join(f"{k} {v}" for k, v in classes.items()))


if __name__ == "__main__":
    run_stage(main)
