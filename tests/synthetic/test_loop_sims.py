"""The loop simulators: the shop as of a date shows nothing later, a batch is answered with
the planted effects (a randomised batch measures them), and held-out customers get none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic.boutique_loop import BoutiqueLoop, BoutiqueLoopConfig
from synthetic.campaigns import LoopConfig
from synthetic.retail_loop import retail_loop


@pytest.mark.parametrize("make", [
    lambda: retail_loop(LoopConfig(customers=4000, seed=3, batches=2)),
    lambda: BoutiqueLoop(BoutiqueLoopConfig(customers=4000, seed=3, batches=2))],
    ids=["retail", "boutique"])
def test_a_randomised_batch_measures_the_planted_effect(make):
    sim = make()
    as_of = sim.dates[0]
    tables = sim.tables(as_of)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    assert tables["orders"]["order_ts"].max() < end
    assert tables["events"]["event_ts"].max() < end
    ids = tables["orders"]["customer_id"].drop_duplicates().reset_index(drop=True)
    rng = np.random.default_rng(0)
    held = rng.random(len(ids)) < 0.5
    batch = pd.DataFrame({"customer_id": ids, "action": "promotion_invite", "in_budget": True,
                          "holdout": held})
    planted = sim.uplift(ids, batch["action"], as_of)
    before = sim.tables(as_of)["orders"]
    sim.answer(batch, as_of)
    assert len(sim.tables(as_of)["orders"]) == len(before)      # responses come after as_of
    start = end - pd.Timedelta(days=0)
    later = sim.shop.orders()
    window = later[(later["order_ts"] > start) & (later["order_ts"] <= start + pd.Timedelta(
        days=30))]
    responded = ids.isin(set(window["customer_id"])).to_numpy()
    measured = responded[~held].mean() - responded[held].mean()
    assert measured == pytest.approx(planted[~held].mean(), abs=0.03)
    # the planted effect differs by cause: the measured one follows it
    price = (sim.cause.reindex(ids).to_numpy() == "price")
    assert planted[price].mean() > planted[~price].mean()
