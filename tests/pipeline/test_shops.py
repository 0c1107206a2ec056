"""One project, one shop: another shop's run stops with one line, `--new-shop` gives it its own
identity, and neither shop's batches are measured against the other's."""

from __future__ import annotations

import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import ExportParams
from pipeline.export import read_table, write_table
from pipeline.shops import NEW_SHOP_ENV, check_same_shop, of_this_shop
from pipeline.tracking import project_id


def contacts(ids: list[str], shop: str, batch: str = "2025-01-01") -> pd.DataFrame:
    return pd.DataFrame({"batch": batch, "customer_id": ids, "group": "treatment",
                         "action": "reminder", "shop": shop})


def scores(ids: list[str], model: str) -> pd.DataFrame:
    from pipeline.columns import EXPORT_COLUMNS

    frame = pd.DataFrame({c: [""] * len(ids) for c in EXPORT_COLUMNS})
    return frame.assign(customer_id=ids, as_of="2025-01-01", horizon_days=365,
                        model_name=model, churn_probability=0.5)


def test_another_shops_customers_stop_the_run_unless_it_is_a_new_shop(tmp_path,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(NEW_SHOP_ENV, raising=False)
    p = ExportParams(database_url=f"sqlite:///{tmp_path}/churn.db")
    shop_a = project_id()
    ids_a = [f"a{i}" for i in range(10)]
    assert check_same_shop(pd.Series(ids_a), p) == ""           # no batch yet
    write_table(scores(ids_a, "m-a"), p, "b1", "t1", contacts(ids_a, shop_a))
    assert check_same_shop(pd.Series([*ids_a[:6], "new1"]), p) == ""   # the same shop, grown
    with pytest.raises(ChurnError, match=r"only 0% of the customers of this project's last "
                                         r"batch .* `churn run --new-shop`"):
        check_same_shop(pd.Series([f"b{i}" for i in range(10)]), p)
    monkeypatch.setenv(NEW_SHOP_ENV, "1")
    assert "a new shop" in check_same_shop(pd.Series([f"b{i}" for i in range(10)]), p)
    shop_b = project_id()
    assert shop_b == f"{shop_a}-shop2"
    # the new shop's batch of the same day leaves the first shop's in the log and the table
    ids_b = [f"b{i}" for i in range(4)]
    write_table(scores(ids_b, "m-b"), p, "b2", "t2", contacts(ids_b, shop_b))
    log = read_table(p.database_url, p.contacts_table)
    assert len(log) == 14
    assert set(of_this_shop(log, shop_b)["customer_id"]) == set(ids_b)
    assert set(of_this_shop(log, shop_a)["customer_id"]) == set(ids_a)
    assert len(read_table(p.database_url, p.table)) == 14
