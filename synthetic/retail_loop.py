"""The retail loop simulator (synthetic/campaigns.py) on a freshly generated retail shop."""

from __future__ import annotations

from synthetic.campaigns import LoopConfig, RetailLoop, span_days
from synthetic.retail import ShopConfig, generate


def retail_loop(cfg: LoopConfig | None = None) -> RetailLoop:
    cfg = cfg or LoopConfig()
    tables, truth = generate(ShopConfig(customers=cfg.customers, seed=cfg.seed,
                                        days=cfg.history_days + span_days(cfg)))
    return RetailLoop(cfg, tables, truth)
