"""The contact history read back: ids in their one spelling, and contacts for customers the
shop does not have left out, or their batch not measured, never read as non-responders."""

from __future__ import annotations

import pandas as pd
import pytest

from models.campaigns.outcomes import outcomes, uplift_table
from pipeline.contacts import CONTACT_LOG, contact_history, screen_contacts

AS_OF = pd.Timestamp("2024-06-30").date()


def shop() -> pd.DataFrame:
    """200 customers `1`..`200`; 30 of the treated 1..100 and 10 of the controls 101..200
    buy within a month of the January contact: the uplift is 0.30 - 0.10 = 0.20."""
    buyers = list(range(1, 31)) + list(range(101, 111))
    ids = [str(i) for i in range(1, 201)]
    return pd.DataFrame({
        "customer_id": ids + [str(i) for i in buyers],
        "order_ts": [pd.Timestamp("2023-06-01")] * 200 + [pd.Timestamp("2024-01-10")] *
        len(buyers),
        "amount": 10.0, "status": "completed"})


def log_rows(batch: str, ids: list[str], groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"batch": batch, "customer_id": ids, "group": groups,
                         "contact_ts": f"{batch} 08:00:00", "action": "reminder"})


def measured(contacts: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    rows, notes = screen_contacts(outcomes(contacts, shop(), None, AS_OF, 30), shop())
    result = uplift_table(rows, {}, min_per_arm=30)
    return result[result["segment"] == "all"].set_index("batch"), notes


def test_a_log_written_with_padded_ids_matches_the_shop_and_measures_the_truth(tmp_path):
    padded = [f"{i:06d}" for i in range(1, 201)]              # as an older run wrote them
    log_rows("2024-01-01", padded, ["treatment"] * 100 + ["control"] * 100).to_parquet(
        tmp_path / CONTACT_LOG)
    contacts, source = contact_history({}, tmp_path)
    assert source == "the pipeline's contact log"
    assert contacts["customer_id"].iloc[0] == "1"
    result, notes = measured(contacts)
    assert notes == []
    assert result.loc["2024-01-01", "uplift"] == pytest.approx(0.20)


def test_a_few_unknown_customers_are_left_out_and_counted_not_read_as_non_responders():
    ids = [str(i) for i in range(1, 201)] + [f"9{i:03d}" for i in range(20)]
    groups = ["treatment"] * 100 + ["control"] * 100 + ["treatment"] * 20
    contacts = log_rows("2024-01-01", ids, groups).rename(columns={"batch": "campaign_id"})
    contacts["contact_ts"] = pd.to_datetime(contacts["contact_ts"])
    result, notes = measured(contacts)
    # measured with them, the treated rate would be 30/120: an uplift of 0.15
    assert result.loc["2024-01-01", "uplift"] == pytest.approx(0.20)
    assert notes[0]["unknown_customers"] == 20 and notes[0]["measured"]
    assert "20 of 220 contacts (9%)" in notes[0]["note"]


def test_a_batch_that_is_not_this_shops_is_not_measured_with_one_line():
    ours = log_rows("2024-01-01", [str(i) for i in range(1, 201)],
                    ["treatment"] * 100 + ["control"] * 100)
    theirs = log_rows("2024-02-01", [f"X{i}" for i in range(150)] + [str(i) for i in range(1, 11)],
                      ["treatment"] * 80 + ["control"] * 80)
    contacts = pd.concat([ours, theirs]).rename(columns={"batch": "campaign_id"})
    contacts["contact_ts"] = pd.to_datetime(contacts["contact_ts"])
    result, notes = measured(contacts)
    assert list(result.index) == ["2024-01-01"]                # never an uplift of 0.0
    assert [n["batch"] for n in notes] == ["2024-02-01"] and not notes[0]["measured"]
    assert "150 of 160 contacts (94%)" in notes[0]["note"]
    assert "not measured" in notes[0]["note"] and "\n" not in notes[0]["note"]
