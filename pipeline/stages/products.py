"""DVC stage `products`: the product matrix from order items (traffic / profit / edge /
potential), as a table, a plot and a report. Shops without item data get an empty matrix."""

from __future__ import annotations

import logging

from common.params import as_dict
from features.engine import rounded
from models.actions.product_matrix import CLASSES, classify, empty_matrix, product_stats
from pipeline.engines import connect_canonical
from pipeline.io import write_figure, write_json, write_parquet
from pipeline.plots import matrix_figure
from pipeline.shell import Stage, run_stage

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    mp = params.products
    con, tables = connect_canonical(paths.canonical, params)
    if "order_items" not in tables:
        matrix = empty_matrix()
        note = "no order_items table: no product matrix and no product suggestions"
    else:
        stats = con.execute(rounded(product_stats(tables["order_items"], tables["orders"],
                                                  tables.get("products"), run.as_of, mp)))
        matrix = classify(stats, run.as_of, mp)
        note = ""
    write_figure(matrix_figure(matrix), paths.matrix_plot)
    write_parquet(matrix, paths.products)
    counts = matrix["product_class"].value_counts().reindex(list(CLASSES), fill_value=0)
    classes = {k: int(v) for k, v in counts.items()}
    write_json({"as_of": run.as_of.isoformat(), "products": len(matrix), "classes": classes,
                "note": note, "params": as_dict(mp)}, paths.products_report)
    log.info("product matrix: %s", ", ".join(f"{k} {v}" for k, v in classes.items()))


if __name__ == "__main__":
    run_stage(main)
