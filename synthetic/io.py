"""Writing a generated shop: contract tables as Parquet, the truth file beside them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TRUTH_FILE = "_truth.parquet"
CAUSES = ("forgot", "satisfaction", "choice", "price", "other")


def write_tables(out_dir: str | Path, tables: dict[str, pd.DataFrame],
                 truth: pd.DataFrame) -> dict[str, int]:
    """One Parquet file per table plus `_truth.parquet`; ingest reads only contract tables."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        tmp = out / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(out / f"{name}.parquet")
    truth.to_parquet(out / TRUTH_FILE, index=False)
    return {name: len(frame) for name, frame in tables.items()}
